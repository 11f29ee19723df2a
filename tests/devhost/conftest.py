"""Fixtures for devhost's host tests: fixture app paths and hosts started once per module."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
