"""Crash safety: devhost killed with SIGKILL while activities run and while instances wait for events,
restarted on the same data dir; every instance completes with the right output and a clean history."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devhost.testing import start_subprocess, wait_for

APP = Path(__file__).resolve().parents[3] / "apps" / "durable_crash_app"
API = "/runtime/webhooks/durabletask"
CHAINS = [f"chain-{i}" for i in range(6)]
WAITERS = [f"wait-{i}" for i in range(4)]

pytestmark = [pytest.mark.subprocess, pytest.mark.timeout(180)]


def _status(base: str, iid: str) -> dict:
    r = httpx.get(f"{base}{API}/instances/{iid}", params={"showHistory": "true"}, timeout=10)
    assert r.status_code in (200, 202), r.text
    return r.json()


def _start(data_dir: Path, markers: Path):
    proc = start_subprocess(APP, data_dir=data_dir, env={"CRASH_MARKER_DIR": str(markers)})
    return proc, proc.wait_ready(60)


def test_kill_9_while_activities_run_and_while_waiting(tmp_path: Path) -> None:
    """SIGKILL mid-activity and mid-wait loses nothing: all instances finish with the expected output."""
    data, markers = tmp_path / "data", tmp_path / "markers"
    markers.mkdir()
    proc, base = _start(data, markers)
    try:
        for n, iid in enumerate(CHAINS):
            r = httpx.post(f"{base}{API}/orchestrators/crash_chain/{iid}", json=n + 1, timeout=10)
            assert r.status_code == 202, r.text
        for iid in WAITERS:
            assert httpx.post(f"{base}{API}/orchestrators/crash_wait/{iid}", timeout=10).status_code == 202
        wait_for(lambda: len(list(markers.iterdir())) >= 2, 30, message="activities running")
    finally:
        assert proc.kill() != 0  # SIGKILL while activities run

    proc, base = _start(data, markers)
    try:
        wait_for(lambda: all(_status(base, i)["runtimeStatus"] == "Completed" for i in CHAINS), 60,
                 interval_s=0.2, message="chains completed after restart")
        wait_for(lambda: all(_status(base, i)["runtimeStatus"] == "Running" for i in WAITERS), 30,
                 message="waiters running")
    finally:
        assert proc.kill() != 0  # SIGKILL while instances wait for events

    proc, base = _start(data, markers)
    try:
        for n, iid in enumerate(WAITERS):
            r = httpx.post(f"{base}{API}/instances/{iid}/raiseEvent/Go", json=n * 10, timeout=10)
            assert r.status_code == 202, r.text
        wait_for(lambda: all(_status(base, i)["runtimeStatus"] == "Completed" for i in WAITERS), 60,
                 interval_s=0.2, message="waiters completed")
        for n, iid in enumerate(CHAINS):
            status = _status(base, iid)
            v = n + 1
            assert status["output"] == [v * 2, v * 4, v * 8]
            events = status["historyEvents"]
            completed = [e for e in events if e["EventType"] == "TaskCompleted"]
            assert len(completed) == 3  # nothing recorded twice
        for n, iid in enumerate(WAITERS):
            assert _status(base, iid)["output"] == {"got": n * 10, "doubled": n * 20}
    finally:
        proc.terminate()
    runs = len(list(markers.iterdir()))
    assert runs >= len(CHAINS) * 3 + len(WAITERS)
