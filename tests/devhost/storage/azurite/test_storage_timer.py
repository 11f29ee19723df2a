"""Timer triggers on a whole devhost driven by a virtual clock: the schedule monitor's past-due run
after a restart, and a 2-second schedule starting orchestrations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devhost.clock import VirtualClock
from devhost.testing import run_host, wait_for
from tests.devhost.storage.azurite.conftest import APPS, needs_durable
from tests.fixtures.azurite import AzuriteInstance

pytestmark = pytest.mark.azurite
T0 = datetime(2024, 5, 1, 10, 0, 1, tzinfo=UTC)


def tick_records(azurite: AzuriteInstance, container: str) -> list[dict]:
    client = azurite.blob_service_client().get_container_client(container)
    if not client.exists():
        return []
    return [json.loads(client.download_blob(b.name).readall()) for b in client.list_blobs("ticks/")]


def test_missed_occurrence_fires_once_past_due_after_restart(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """`monitored` (every 5 min, use_monitor) runs with past_due=True exactly once when the host restarts
    12 minutes later, and its status moves to the next occurrence."""
    settings = {**settings, "AzureWebJobs.monitored.Disabled": "false"}
    status_file = tmp_path / "timers" / "monitored.json"
    with run_host(
        APPS / "storage_queue",
        data_dir=tmp_path,
        settings=settings,
        clock=VirtualClock(T0, auto_advance=False),
    ):
        wait_for(status_file.exists, 10, message="status file")
    first = json.loads(status_file.read_text())
    assert first["Next"] == "2024-05-01T10:05:00+00:00"
    assert tick_records(azurite, names["CONTAINER"]) == []

    with run_host(
        APPS / "storage_queue",
        data_dir=tmp_path,
        settings=settings,
        clock=VirtualClock(T0 + timedelta(minutes=12), auto_advance=False),
    ):
        records = wait_for(lambda: tick_records(azurite, names["CONTAINER"]), 10, message="past-due run")
    assert [r["past_due"] for r in records] == [True]
    assert records[0]["status"]["Next"] == "2024-05-01T10:05:00+00:00"
    assert json.loads(status_file.read_text())["Next"] == "2024-05-01T10:15:00+00:00"


@needs_durable
def test_two_second_timer_starts_orchestrations(azurite: AzuriteInstance, settings, tmp_path: Path) -> None:
    """`ticker` (every 2 s, durable client) fires repeatedly under the virtual clock and each firing
    starts a `greet` orchestration that completes."""
    settings = {**settings, "AzureWebJobs.ticker.Disabled": "false"}
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings, clock="virtual") as host:

        def completed() -> list[dict]:
            r = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances", timeout=5)
            r.raise_for_status()
            done = [i for i in r.json() if i["runtimeStatus"] == "Completed" and i["name"] == "greet"]
            return done if len(done) >= 3 else []

        instances = wait_for(completed, 30, 0.1, "three completed orchestrations")
    assert {i["output"] for i in instances} == {"hello {'past_due': False}"}


def test_run_on_startup_fires_once_at_start(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """A yearly timer with run_on_startup fires once when the host starts (not past due)."""
    with run_host(
        APPS / "storage_plain",
        data_dir=tmp_path,
        settings=settings,
        clock=VirtualClock(T0, auto_advance=False),
    ):
        client = azurite.blob_service_client().get_container_client(names["CONTAINER"])
        blobs = wait_for(lambda: client.exists() and list(client.list_blobs("startup/")), 10)
    record = json.loads(client.download_blob(blobs[0].name).readall())
    assert (len(blobs), record) == (1, {"past_due": False, "schedule": {"AdjustForDST": True}})


def test_a_jump_over_several_occurrences_runs_once_past_due(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """While the host runs, the clock jumps 12 minutes over `monitored`'s 5-minute occurrences: one run,
    past due (not one per occurrence); a later single occurrence runs normally."""
    settings = {**settings, "AzureWebJobs.monitored.Disabled": "false"}
    clock = VirtualClock(T0, auto_advance=False)
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings, clock=clock):
        wait_for(lambda: clock.pending_sleepers() > 0, 10, message="timer armed")
        clock.advance(timedelta(minutes=12))  # past 10:05 and 10:10
        records = wait_for(lambda: tick_records(azurite, names["CONTAINER"]), 10, message="past-due run")
        assert [r["past_due"] for r in records] == [True]
        wait_for(lambda: clock.next_deadline() == datetime(2024, 5, 1, 10, 15, tzinfo=UTC), 10,
                 message="next occurrence armed from now")
        clock.advance(timedelta(minutes=3))  # 10:15 only
        records = wait_for(lambda: len(tick_records(azurite, names["CONTAINER"])) == 2 and
                           tick_records(azurite, names["CONTAINER"]), 10, message="second run")
    assert sorted(r["past_due"] for r in records) == [False, True]
