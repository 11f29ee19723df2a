"""Fixtures for the storage binding tests: per-test queue/container names in the shared Azurite and the
app settings the fixture apps read them from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.azurite import AzuriteInstance

APPS = Path(__file__).resolve().parents[3] / "apps"


@pytest.fixture
def names(azurite: AzuriteInstance) -> dict[str, str]:
    """Unique queue and container names for one test."""
    return {
        key: azurite.unique(key.split("_")[0].lower())
        for key in (
            "ORDERS_QUEUE",
            "OUT_QUEUE",
            "LOOKUP_QUEUE",
            "FAIL_QUEUE",
            "START_QUEUE",
            "PLAIN_QUEUE",
            "CONTAINER",
            "UPLOADS",
        )
    }


@pytest.fixture
def settings(azurite: AzuriteInstance, names: dict[str, str]) -> dict[str, str]:
    """App settings for tests/apps/storage_*: Azurite connection, names, schedules; timers disabled."""
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "WEBSITE_TIME_ZONE": "UTC",
        "TICK_SCHEDULE": "*/2 * * * * *",
        "MONITOR_SCHEDULE": "0 */5 * * * *",
        "AzureWebJobs.ticker.Disabled": "true",
        "AzureWebJobs.monitored.Disabled": "true",
        **names,
    }


def durable_extension_missing() -> bool:
    """True until devhost/durable/extension.py exists (issue 4); tests needing it say so when skipped."""
    import importlib.util

    return importlib.util.find_spec("devhost.durable.extension") is None


needs_durable = pytest.mark.skipif(
    durable_extension_missing(), reason="needs the durable extension (devhost/durable/extension.py, issue 4)"
)
