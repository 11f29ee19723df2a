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

    last: list[str] = ["no answer"]

    def ready() -> dict[str, Any] | None:
        r = app.client.http.get(f"{app.client.base}/api/cases/{case_id}", headers=app.client.reader)
        last[0] = f"{r.status_code} {r.text[:300]}"
        view = r.json() if r.status_code == 200 else None
        if view and view["stage"] in stages:
            return view
        app.host.clock.advance(step_s)
        return None

    try:
        return wait_for(ready, timeout_s=timeout_s, interval_s=0.05, message=f"case {case_id} in {stages}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; last answer: {last[0]}") from None


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


@pytest.mark.parametrize("bad_id", ["case%00x", "a%2Fb", "x" * 300, "-lead"])
def test_ids_are_validated_before_storage_calls(app, bad_id):
    """A malformed case id on the audit route is a 400 naming the rule, answered before any storage call
    (a NUL in the id used to make the storage SDK retry for ~80 s)."""
    r = app.client.http.get(f"{app.client.base}/api/cases/{bad_id}/audit", headers=app.client.reader)
    assert r.status_code in (400, 404), r.text
    if r.status_code == 400:
        assert "case id" in r.json()["error"]


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


@pytest.mark.azurite
def test_storage_outage_parks_an_approved_case_stalled_and_it_resumes_without_a_second_approval(
    downstream, tmp_path
):
    """Item 1: a dedicated Azurite stops right after a privileged case was approved. The apply step keeps
    failing on storage, the case shows stage ``stalled`` (not ``failed``), and once Azurite is back (same
    ports and data) it resumes by itself: completed, one effect, one human decision."""
    from devhost.storage.azurite import AzuriteProcess
    from devhost.testing import run_host
    from tests.e2e.case_harness import REPO, CaseClient, app_settings, principal, write_policy

    storage = AzuriteProcess(location=tmp_path / "azurite", ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = storage.start()

    class Storage:
        connection_string = endpoints.connection_string

        @staticmethod
        def unique(prefix: str) -> str:
            return f"{prefix}-outage"

    settings = app_settings(Storage, write_policy(tmp_path / "policy.json", downstream.url), downstream.url)
    restarted = None
    try:
        with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
            client = CaseClient(host.base_url)
            case_id = client.send(plain_event("outage-1", "account.change")).json()["instanceId"]
            client.wait_pending(case_id)
            storage.stop()  # storage goes away between the approval request and the decision
            assert client.decide(case_id, principal("bob", "approver")).status_code == 202
            # item 6: the request path fails fast with 503 + Retry-After; health does not depend on storage
            audit = client.http.get(f"{client.base}/api/cases/{case_id}/audit", headers=client.reader)
            assert audit.status_code == 503 and audit.headers["Retry-After"].isdigit(), audit.text
            assert client.http.get(f"{client.base}/api/health").status_code == 200

            app = type("App", (), {"client": client, "host": host})
            stalled = drive(app, case_id, "stalled", "failed", step_s=2.0, timeout_s=120)
            assert stalled["stage"] == "stalled", stalled
            assert stalled["stalled"]["step"] == "apply_action"
            assert "StorageUnavailable" in stalled["stalled"]["reason"]

            restarted = AzuriteProcess(location=tmp_path / "azurite", ports=storage.ports)
            restarted.start()
            view = drive(app, case_id, "completed", "failed", step_s=30.0, timeout_s=120)

        assert view["stage"] == "completed", view["outcome"]
        assert view["outcome"]["approvers"] == ["bob"]
        stages = [t["stage"] for t in view["timeline"]]
        assert stages[-3:] == ["stalled", "ready_to_apply", "completed"], stages
        posts = [r for r in downstream.posts() if r.path == "/hooks/accounts.update"]
        assert len(posts) == 1 and len(downstream.effects) == 1
    finally:
        storage.stop()
        if restarted is not None:
            restarted.stop()
