"""Maintenance end to end: the timer starts the singleton, reminders go out once, old histories are purged
through the durable client while the audit trail stays."""

from __future__ import annotations

import json

import pytest

from devhost.testing import run_host, wait_for
from shared.settings import AppSettings
from shared.storage import ensure_queue
from tests.e2e.case_harness import REPO, CaseClient, app_settings, plain_event, principal, write_policy

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def _notifications(settings: dict[str, str]) -> list[dict]:
    queue = ensure_queue(AppSettings.from_env(settings), settings["CASE_NOTIFICATIONS_QUEUE"])
    return [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]


def test_reminder_once_and_purge_keeps_the_audit_trail(azurite, downstream, tmp_path):
    """Past the 4 h SLA one reminder is queued (not one per tick); finished cases' histories are purged."""
    policy = write_policy(tmp_path / "policy.json", downstream.url)
    settings = app_settings(azurite, policy, downstream.url)
    settings["CASE_MAINTENANCE_SCHEDULE"] = "0 0 * * * *"  # hourly
    settings["CASE_RETENTION_DAYS"] = "0"
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        client = CaseClient(host.base_url)
        done = client.send(plain_event("m-1", "order.cancel")).json()["instanceId"]
        client.wait_runtime(done, "Completed")
        waiting = client.send(plain_event("m-2", "account.change")).json()["instanceId"]
        client.wait_pending(waiting)

        host.clock.advance(5 * 3600)  # several hourly ticks, past the reminder SLA

        def reminders():
            found = [n for n in _notifications(settings) if n["kind"] == "approval_reminder"]
            return found or None

        found = wait_for(reminders, timeout_s=60, interval_s=0.2, message="a reminder was queued")
        assert {n["case_instance_id"] for n in found} == {waiting}
        assert {n["event_id"] for n in found} == {"m-2"}  # a reminder names its case's event
        gone = wait_for(
            lambda: (
                client.http.get(f"{client.base}/api/cases/{done}", headers=client.reader).status_code == 404
            ),
            timeout_s=60,
            interval_s=0.2,
            message="finished case purged",
        )
        assert gone
        audit = client.http.get(
            f"{client.base}/api/cases/{done}/audit", headers=principal("auditor", "auditor")
        )
        assert audit.status_code == 200 and audit.json()["ok"] is True
        host.clock.advance(3 * 3600)
        wait_for(lambda: _maintenance_idle(client), timeout_s=30, message="maintenance idle")
        assert len([n for n in _notifications(settings) if n["kind"] == "approval_reminder"]) == 1
        assert client.case(waiting)["stage"] == "awaiting_approval"


def _maintenance_idle(client: CaseClient) -> bool:
    r = client.http.get(f"{client.base}/runtime/webhooks/durabletask/instances/case-maintenance")
    return r.status_code == 200 and r.json().get("runtimeStatus") in ("Completed", "Failed")
