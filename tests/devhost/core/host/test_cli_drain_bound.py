"""The drain on SIGTERM is bounded by ``--drain-timeout`` even when a sync function keeps its pool thread
busy: the request fails (500), the process exits 0 without waiting for the thread to finish."""

import threading
from pathlib import Path

import httpx
import pytest

from devhost.testing import start_subprocess, wait_for
from tests.fixtures.paths import APPS

pytestmark = pytest.mark.subprocess


def test_sigterm_exit_is_bounded_by_the_drain_timeout(tmp_path: Path) -> None:
    """A 120-second sync function, --drain-timeout 1: exit 0 long before the function could finish (the
    terminate wait of 30 s is a liveness bound, not a measurement)."""
    proc = start_subprocess(APPS / "http_basic", data_dir=tmp_path, extra_args=["--drain-timeout", "1"])
    outcome: dict[str, object] = {}
    try:
        base = proc.wait_ready(30)

        def slow() -> None:
            try:
                r = httpx.get(f"{base}/api/slow-sync", params={"s": "120"}, timeout=60)
                outcome["status"] = r.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=slow)
        thread.start()
        wait_for(lambda: "Executing 'Functions.slow_sync'" in proc.stdout_text(), 10, message="slow started")
        code = proc.terminate(30)
        thread.join(30)
    finally:
        proc.kill()
    assert code == 0
    assert outcome.get("status") == 500 or "error" in outcome
    assert "Host stopped" in proc.stdout_text()
