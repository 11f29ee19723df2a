"""Issue 4 audit gaps, through the SDK's DurableOrchestrationClient (an HTTP starter) and plain HTTP:
failure texts and runtime status as the real host reports them, host.json maxConcurrentActivityFunctions,
``python -m devhost start --clock virtual`` skipping a 72-hour wait in a subprocess, and state kept across
restarts in the default data dir (<app-dir>/.devhost, what ``make run`` uses)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import REPO_ROOT, DevhostProcess, HostThread, run_host, start_subprocess, wait_for

APP = Path(__file__).resolve().parents[3] / "apps" / "durable_limits_app"
API = "/runtime/webhooks/durabletask"
FINISHED = {"Completed", "Failed", "Terminated"}


def start(base: str, name: str, instance_id: str | None = None) -> dict[str, Any]:
    """POST the app's starter (client.start_new + create_check_status_response); returns its payload."""
    params = {"id": instance_id} if instance_id else None
    r = httpx.post(f"{base}/api/start/{name}", params=params, timeout=10)
    assert r.status_code == 202, r.text
    return r.json()


def wait_status(url: str, statuses: set[str], timeout_s: float = 20) -> dict[str, Any]:
    """Poll a statusQueryGetUri until runtimeStatus is one of ``statuses``."""
    def check() -> dict[str, Any] | None:
        r = httpx.get(url, timeout=10)
        return r.json() if r.status_code in (200, 202) and r.json()["runtimeStatus"] in statuses else None

    return wait_for(check, timeout_s, 0.05, f"{url} in {sorted(statuses)}")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    with run_host(APP, data_dir=tmp_path_factory.mktemp("limits"), clock="system") as h:
        yield h


def test_caught_activity_failure_has_the_extensions_text(host: HostThread) -> None:
    """The orchestrator catches Exception("<Reason> \\n <Details>") as the SDK builds it from TaskFailed:
    Reason "Activity function 'boom' failed:  ValueError: ..." (two spaces), Details JSON with Message."""
    payload = start(host.base_url, "catch_activity")
    status = wait_status(payload["statusQueryGetUri"], FINISHED)
    assert status["runtimeStatus"] == "Completed"
    caught = status["output"]["caught"]
    assert caught.startswith("Activity function 'boom' failed:  ValueError: activity exploded: caught \n ")
    assert '"Message": " ValueError: activity exploded: caught"' in caught


def test_orchestrator_exception_fails_the_instance_like_the_host(host: HostThread) -> None:
    """An orchestrator that raises ends Failed; output is the JSON string "Orchestrator function '<name>'
    failed: <error>"; GET status answers 200, or 500 with returnInternalServerErrorOnFailure=true."""
    payload = start(host.base_url, "orchestrator_raises")
    status = wait_status(payload["statusQueryGetUri"], FINISHED)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "Orchestrator function 'orchestrator_raises' failed: orchestrator blew up"
    url = f"{host.base_url}{API}/instances/{payload['id']}"
    assert httpx.get(url, timeout=10).status_code == 200
    strict = httpx.get(url, params={"returnInternalServerErrorOnFailure": "true"}, timeout=10)
    assert strict.status_code == 500


def test_max_concurrent_activity_functions_is_honoured(host: HostThread) -> None:
    """host.json maxConcurrentActivityFunctions 2: eight fanned-out activities never run more than two at
    a time (and do run two at a time)."""
    payload = start(host.base_url, "fan_tracked")
    status = wait_status(payload["statusQueryGetUri"], FINISHED)
    assert (status["runtimeStatus"], status["output"]) == ("Completed", 2)


@pytest.mark.subprocess
def test_clock_virtual_skips_a_72_hour_wait_in_a_subprocess(tmp_path: Path) -> None:
    """``python -m devhost start --clock virtual``: with nothing else to do the host jumps to the due timer,
    so a 72 h approval wait times out in (real) seconds."""
    with start_subprocess(APP, data_dir=tmp_path, clock="virtual") as proc:
        base = proc.wait_ready(60)
        payload = start(base, "approval")
        status = wait_status(payload["statusQueryGetUri"], FINISHED)
        assert proc.terminate() == 0
    assert status["runtimeStatus"] == "Completed" and status["output"]["approved"] is None
    created = datetime.fromisoformat(status["createdTime"].replace("Z", "+00:00"))
    timed_out = datetime.fromisoformat(status["output"]["timed_out_at"])
    assert timed_out - created >= timedelta(hours=72)


def _start_default_data_dir(app_dir: Path) -> DevhostProcess:
    """``python -m devhost start --app-dir DIR`` without --data-dir, as ``make run`` starts it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    args = [sys.executable, "-m", "devhost", "start", "--app-dir", str(app_dir), "--port", "0"]
    return DevhostProcess(args, env, app_dir)


@pytest.mark.subprocess
def test_state_survives_a_restart_in_the_default_data_dir(tmp_path: Path) -> None:
    """Without --data-dir the task hub lives in <app-dir>/.devhost; a waiting instance started before a
    graceful stop is still Running after a restart and completes when its event arrives."""
    app_dir = tmp_path / "app"
    shutil.copytree(APP, app_dir)
    with _start_default_data_dir(app_dir) as first:
        base = first.wait_ready(60)
        start(base, "approval", "kept-across-restarts")
        wait_status(f"{base}{API}/instances/kept-across-restarts", {"Running"})
        assert first.terminate() == 0
    assert (app_dir / ".devhost" / "taskhub.sqlite").is_file()
    with _start_default_data_dir(app_dir) as second:
        base = second.wait_ready(60)
        url = f"{base}{API}/instances/kept-across-restarts"
        assert wait_status(url, {"Running"})["name"] == "approval"
        r = httpx.post(f"{url}/raiseEvent/Approval", json={"by": "ops"}, timeout=10)
        assert r.status_code == 202
        done = wait_status(url, FINISHED)
        assert second.terminate() == 0
    assert done["output"] == {"approved": {"by": "ops"}}
