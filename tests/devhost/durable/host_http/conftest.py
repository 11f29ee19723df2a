"""Fixtures for the Durable HTTP API tests: one in-process devhost per module running the fixture app
tests/apps/durable_api_app (SQLite task hub in a temporary data dir), and polling helpers."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

APP_DIR = Path(__file__).resolve().parents[3] / "apps" / "durable_api_app"


def _engine_available() -> bool:
    return importlib.util.find_spec("devhost.durable.extension") is not None


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A started devhost (HostThread) serving the fixture app on an ephemeral port."""
    if not _engine_available():
        pytest.skip("devhost.durable.extension is not there yet")
    from devhost.testing import run_host

    with run_host(APP_DIR, data_dir=tmp_path_factory.mktemp("durable-api"), clock="system") as h:
        yield h


@pytest.fixture(scope="module")
def http(host: Any) -> Iterator[httpx.Client]:
    """A plain HTTP client for the host (base URL set; 10 s timeout)."""
    with httpx.Client(base_url=host.base_url, timeout=10) as client:
        yield client
