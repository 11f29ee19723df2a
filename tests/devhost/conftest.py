"""Fixtures for devhost's host tests: fixture app paths and hosts started once per module, and the check
of the SQLite task hub's history cache against the database in every test."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.durable.models import InstanceState
from devhost.durable.sqlite_store import SqliteStore
from devhost.testing import HostThread, run_host

APPS = Path(__file__).resolve().parent.parent / "apps"


@pytest.fixture(scope="module")
def basic_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    """tests/apps/http_basic served in-process (route prefix ``api``)."""
    with run_host(APPS / "http_basic", data_dir=tmp_path_factory.mktemp("basic")) as host:
        yield host


@pytest.fixture(scope="module")
def routes_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    """tests/apps/http_routes served in-process (df.DFApp, empty route prefix)."""
    with run_host(APPS / "http_routes", data_dir=tmp_path_factory.mktemp("routes")) as host:
        yield host


@pytest.fixture
def client(basic_host: HostThread) -> Iterator[httpx.Client]:
    """An HTTP client bound to the basic app's base URL."""
    with httpx.Client(base_url=basic_host.base_url, timeout=20) as c:
        yield c


@pytest.fixture(autouse=True)
def history_cache_matches_the_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every history an episode gets from a SqliteStore (cached or read, devhost.durable.history_cache) is
    compared with what the database holds at that moment – texts and parsed events, so a host module that
    mutated a shared cached event would show too; the test fails on any difference."""
    wrong: list[str] = []
    real = SqliteStore._cached_history

    def checked(self: SqliteStore, state: InstanceState) -> tuple[list[str], list[Any]]:
        texts, events = real(self, state)
        stored = self._history_texts(state.instance_id)
        if texts != stored or events != [json.loads(t) for t in stored]:
            wrong.append(f"{state.instance_id}: {len(texts)} events given, {len(stored)} stored")
        return texts, events

    monkeypatch.setattr(SqliteStore, "_cached_history", checked)
    yield
    assert not wrong, f"history cache differs from the task hub database: {wrong}"
