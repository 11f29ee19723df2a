"""Fixtures of the ingress integration tests: one in-process devhost (real HTTP, SQLite task hub, Azurite
queues) per module serving tests/integration/ingress/ingress_app."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.octokit_examples import TEST_SECRET

APP_DIR = Path(__file__).resolve().parent / "ingress_app"
MAX_EVENT_BYTES = 65536


@pytest.fixture(scope="module")
def events_queue() -> str:
    """This module's case-events queue name."""
    return f"case-events-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Any, events_queue: str) -> Iterator[Any]:
    """A started devhost serving the ingress fixture app."""
    for module in ("devhost.durable.extension", "devhost.storage.extension"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not there yet")
    from devhost.testing import run_host

    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "CASE_EVENTS_QUEUE": events_queue,
        "GITHUB_WEBHOOK_SECRET": TEST_SECRET,
        "CASE_MAX_EVENT_BYTES": str(MAX_EVENT_BYTES),
    }
    with run_host(
        APP_DIR, data_dir=tmp_path_factory.mktemp("ingress"), clock="system", settings=settings
    ) as h:
        yield h


@pytest.fixture(scope="module")
def http(host: Any) -> Iterator[httpx.Client]:
    """HTTP client for the host (base URL set, 10 s timeout)."""
    with httpx.Client(base_url=host.base_url, timeout=10) as client:
        yield client
