"""The Durable Functions patterns of issue 4 started through the fixture app's HTTP starter (the SDK's
DurableOrchestrationClient: start_new + create_check_status_response) and followed through the
statusQueryGetUri with plain HTTP, on the engine fixture app and its auto-advancing virtual clock."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from devhost.testing import wait_for
from tests.devhost.durable.host.conftest import Engine

FINISHED = {"Completed", "Failed", "Terminated"}
HELLOS = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def start(engine: Engine, name: str, body: Any = None) -> dict[str, Any]:
    content = json.dumps(body).encode() if body is not None else b""
    r = httpx.post(f"{engine.host.base_url}/api/start/{name}", content=content, timeout=10)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["statusQueryGetUri"]
    return r.json()


def wait_status(url: str, statuses: set[str], timeout_s: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        r = httpx.get(url, timeout=10)
        return r.json() if r.status_code in (200, 202) and r.json()["runtimeStatus"] in statuses else None

    return wait_for(check, timeout_s, 0.05, f"{url} in {sorted(statuses)}")


@pytest.mark.parametrize(
    ("name", "body", "status", "check"),
    [
        ("chain", None, "Completed", lambda out: out == HELLOS),
        ("fan_out", 200, "Completed", lambda out: out == 2 * sum(range(200))),
        ("approval", None, "Completed", lambda out: out["approved"] is None),  # 72 h skipped
        ("monitor", None, "Completed", lambda out: out == [0, 1, 2]),
        ("parent", None, "Completed",
         lambda out: out["chain"] == HELLOS and "orchestrator blew up" in out["failed"]),
        ("retry_ok", None, "Completed", lambda out: out == "ok after 3"),
        ("retry_exhaust", None, "Failed", lambda out: "activity exploded: retried" in out),
        ("sub_retry", None, "Completed", lambda out: out == "ok after 3"),
        ("counter", 0, "Completed", lambda out: out["final"] == 5),
        ("activity_failure", None, "Failed",
         lambda out: "Activity function 'boom' failed:  ValueError: activity exploded: uncaught" in out),
    ],
)
def test_pattern_through_the_sdk_client_and_http(engine: Engine, name: str, body: Any, status: str,
                                                 check: Any) -> None:
    """Started by client.start_new in an HTTP function; the check-status URL reports the final status."""
    payload = start(engine, name, body)
    final = wait_status(payload["statusQueryGetUri"], FINISHED)
    assert final["runtimeStatus"] == status, final
    assert check(final["output"]), final["output"]


def test_event_raised_through_the_send_event_url_wins_the_race(engine: Engine) -> None:
    """The payload's sendEventPostUri (with {eventName} filled in) delivers the approval before the timer."""
    engine.clock.set_auto_advance(False)
    try:
        payload = start(engine, "approval")
        wait_status(payload["statusQueryGetUri"], {"Running"})
        url = payload["sendEventPostUri"].replace("{eventName}", "Approval")
        assert httpx.post(url, json={"by": "curl"}, timeout=10).status_code == 202
        final = wait_status(payload["statusQueryGetUri"], FINISHED)
    finally:
        engine.clock.set_auto_advance(True)
    assert final["output"] == {"approved": {"by": "curl"}}
    assert final["customStatus"] == {"stage": "approved"}


def test_orchestrator_episodes_are_logged_like_invocations(engine: Engine,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Each orchestrator episode gets Executing/Executed lines; a raising orchestrator's episode is Failed."""
    caplog.set_level("INFO")
    ok = start(engine, "chain")
    boom = start(engine, "boom_orchestrator")
    wait_status(ok["statusQueryGetUri"], FINISHED)
    wait_status(boom["statusQueryGetUri"], FINISHED)
    lines = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Executing 'Functions.chain' (Reason='(null)'") and ok["id"] in m for m in lines)
    assert any(m.startswith("Executed 'Functions.chain' (Succeeded") for m in lines)
    assert any(m.startswith("Executed 'Functions.boom_orchestrator' (Failed") for m in lines)
