"""Reliability end to end (issue 10 items 2 and 3): transient downstream failures, restarts under a new id.

The app runs on devhost with the manual virtual clock; :func:`drive` moves that clock on while it waits, so
the orchestrator's retry timers fire and the ledger's busy grace (which runs on the same orchestration
clock, passed as ``at`` to ``apply_action``) passes with them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devhost.testing import wait_for
from shared.adapters import idempotency_key
from tests.e2e.case_harness import plain_event


def drive(app, case_id: str, *stages: str, step_s: float = 5.0, timeout_s: float = 60.0) -> dict[str, Any]:
    """Wait until the case's stage is one of ``stages``, moving the virtual clock ``step_s`` seconds on
    each poll that finds it elsewhere."""

    def ready() -> dict[str, Any] | None:
        r = app.client.http.get(f"{app.client.base}/api/cases/{case_id}", headers=app.client.reader)
        view = r.json() if r.status_code == 200 else None
        if view and view["stage"] in stages:
            return view
        app.host.clock.advance(step_s)
        return None

    return wait_for(ready, timeout_s=timeout_s, interval_s=0.05, message=f"case {case_id} in {stages}")


def cancel_posts(app) -> list:
    return [r for r in app.downstream.posts() if r.path == "/hooks/orders.cancel"]


@pytest.mark.parametrize("status", [503, 500])
def test_downstream_failing_twice_then_ok_completes_with_one_effect(app, status):
    """The downstream answers ``status`` twice, then 200: the case completes with exactly one effect.

    503 says "not processed": the ledger releases its claim at once. 500 is an unknown outcome: the claim
    stays "started" and the retry (5 s later on the orchestration clock) takes it over after the 3 s grace;
    the downstream's Idempotency-Key keeps the effect single either way."""
    app.downstream.fail_next(status, 2)
    r = app.client.send(plain_event(f"flaky-{status}", "order.cancel", amount=20))
    assert r.status_code == 202, r.text
    case_id = r.json()["instanceId"]

    view = drive(app, case_id, "completed", "failed")

    assert view["stage"] == "completed", view["outcome"]
    posts = cancel_posts(app)
    assert len(posts) == 3
    key = idempotency_key("e2e", f"flaky-{status}", "order.cancel")
    assert {p.headers["Idempotency-Key"] for p in posts} == {key}
    assert list(app.downstream.effects) == [key]


def test_restart_under_a_new_instance_id_never_applies_twice(app):
    """Restarting a completed case through the Durable HTTP API (restartWithNewInstanceId) runs the same
    event again under a new id: its apply finds the event's ledger record and sends nothing."""
    r = app.client.send(plain_event("restart-1", "order.cancel", amount=20))
    case_id = r.json()["instanceId"]
    first = drive(app, case_id, "completed", "failed")
    assert first["stage"] == "completed", first["outcome"]

    restart = httpx.post(
        f"{app.client.base}/runtime/webhooks/durabletask/instances/{case_id}/restart",
        params={"restartWithNewInstanceId": "true"},
        timeout=30,
    )
    assert restart.status_code == 202, restart.text
    new_id = restart.json()["id"]
    assert new_id != case_id

    second = drive(app, new_id, "completed", "failed")
    assert second["stage"] == "completed", second["outcome"]
    assert second["outcome"]["result"]["replayed"] is True
    assert len(cancel_posts(app)) == 1
    assert len(app.downstream.effects) == 1
