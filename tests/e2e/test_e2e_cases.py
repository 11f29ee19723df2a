"""The case workflow end to end on devhost + Azurite, approvals driven over HTTP with principal headers."""

from __future__ import annotations

import json

import pytest

from devhost.testing import wait_for
from shared.adapters import idempotency_key
from shared.settings import AppSettings
from shared.storage import ensure_queue
from tests.e2e.case_harness import plain_event, principal

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

BOB = principal("bob", "approver")
CAROL = principal("carol", "approver")
DAVE = principal("dave", "admin")


def webhook_posts(downstream, tool: str) -> list:
    return [r for r in downstream.posts() if r.path == f"/hooks/{tool}"]


def test_low_risk_event_completes_automatically(app):
    """An order cancellation (write) is applied once without approval and completes."""
    r = app.client.send(plain_event("o-1", "order.cancel", amount=20))
    assert r.status_code == 202, r.text
    case_id = r.json()["instanceId"]
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed", view["outcome"]
    assert [t["stage"] for t in view["timeline"]] == ["received", "classified", "ready_to_apply", "completed"]
    posts = webhook_posts(app.downstream, "orders.cancel")
    assert len(posts) == 1
    # the key derives from the business event (source + id + action), never from the instance id
    assert posts[0].headers["Idempotency-Key"] == idempotency_key("e2e", "o-1", "order.cancel")


def test_privileged_event_waits_is_approved_and_applies_once(app):
    """account.change waits; bob (approver) approves over HTTP; the downstream sees exactly one call."""
    r = app.client.send(plain_event("a-1", "account.change", requester="alice"))
    case_id = r.json()["instanceId"]
    view = app.client.wait_pending(case_id)
    assert view["pendingApproval"]["roles"] == ["approver"]
    assert webhook_posts(app.downstream, "accounts.update") == []
    listed = [a for a in app.client.approvals() if a["caseId"] == case_id]
    assert listed and listed[0]["decideUrl"].endswith(f"/api/cases/{case_id}/decision")
    answer = app.client.decide(case_id, BOB)
    assert answer.status_code == 202, answer.text
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed" and view["outcome"]["approvers"] == ["bob"]
    assert len(webhook_posts(app.downstream, "accounts.update")) == 1
    again = app.client.decide(case_id, CAROL)
    assert again.status_code == 409


def test_rejected_case_takes_the_fallback(app):
    """A rejection ends the case as rejected; nothing reaches the downstream; the requester is notified."""
    case_id = app.client.send(plain_event("a-2", "account.change")).json()["instanceId"]
    app.client.wait_pending(case_id)
    assert app.client.decide(case_id, BOB, "reject", "not this quarter").status_code == 202
    view = app.client.wait_stage(case_id, "rejected", "failed")
    assert view["stage"] == "rejected"
    assert "not this quarter" in view["outcome"]["reason"]
    assert webhook_posts(app.downstream, "accounts.update") == []
    queue = ensure_queue(AppSettings.from_env(app.settings), app.settings["CASE_NOTIFICATIONS_QUEUE"])

    def told():
        notes = [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]
        return [n for n in notes if n["kind"] == "case_rejected"]

    note = wait_for(told, timeout_s=10, message="requester notified")[0]
    assert note["requester"] == "alice" and "not this quarter" in note["outcome"]["reason"]
    assert "audit" not in note  # the records riding with the notice went to the trail, not the queue


def test_self_approval_and_missing_role_are_refused(app):
    """The requester gets 403 (self-approval); a user without the role gets 403; no identity gets 401."""
    case_id = app.client.send(plain_event("a-3", "account.change", requester="alice")).json()["instanceId"]
    app.client.wait_pending(case_id)
    own = app.client.decide(case_id, principal("alice", "approver"))
    assert own.status_code == 403 and "self-approval" in own.json()["error"]
    norole = app.client.decide(case_id, principal("eve", "viewer"))
    assert norole.status_code == 403
    anonymous = app.client.http.post(
        f"{app.client.base}/api/cases/{case_id}/decision", json={"decision": "approve"}
    )
    assert anonymous.status_code == 401
    assert app.client.http.get(f"{app.client.base}/api/cases/case-unknown", headers=BOB).status_code == 404
    assert app.client.case(case_id)["stage"] == "awaiting_approval"
    assert app.client.decide(case_id, BOB).status_code == 202
    assert app.client.wait_stage(case_id, "completed", "failed")["stage"] == "completed"
    audit = app.client.http.get(f"{app.client.base}/api/cases/{case_id}/audit", headers=BOB).json()
    kinds = [r["kind"] for r in audit["records"]]
    assert kinds.count("decision_refused") == 2, "both forbidden attempts are recorded"
    assert kinds.count("decision") == 1


def test_quorum_two_of_three(app):
    """A large payment needs two distinct approvers: bob alone is not enough, bob + dave apply it once."""
    case_id = app.client.send(plain_event("p-1", "payment.release", amount=50000, currency="EUR")).json()[
        "instanceId"
    ]
    view = app.client.wait_pending(case_id)
    assert view["pendingApproval"]["required"] == 2
    assert app.client.decide(case_id, BOB).status_code == 202
    app.client.wait_stage(case_id, "awaiting_approval")
    twice = app.client.decide(case_id, BOB)
    assert twice.status_code in (202, 409)
    assert app.client.decide(case_id, DAVE).status_code == 202
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed"
    assert sorted(view["outcome"]["approvers"]) == ["bob", "dave"]
    assert len(webhook_posts(app.downstream, "payments.release")) == 1
    # the approvers' decisions rode in apply's input by reference (orchestration version 5.0): stored whole
    audit = app.client.http.get(f"{app.client.base}/api/cases/{case_id}/audit", headers=BOB).json()
    decisions = [r for r in audit["records"] if r["kind"] == "decision"]
    assert sorted(d["data"]["approver"] for d in decisions) == ["bob", "dave"]
    for d in decisions:
        assert d["data"]["case_instance_id"] == case_id and d["data"]["seal"].startswith("hmac-sha256:")
        assert d["data"]["nonce"] and d["data"]["evidence_hash"].startswith("sha256:")
    assert all(r["record_id"].startswith(case_id + ":") for r in audit["records"]), audit["records"]
    classified = next(r for r in audit["records"] if r["data"].get("stage") == "classified")
    assert {"source", "steps", "records"} <= set(classified["data"]["judgment"])


def test_no_decision_escalates_then_expires(app):
    """No decision: tier 0 expires after 24 h (virtual clock), admins are asked, then the case expires."""
    case_id = app.client.send(plain_event("a-4", "account.change")).json()["instanceId"]
    app.client.wait_pending(case_id, tier=0)
    app.host.clock.advance(24 * 3600 + 1)
    view = app.client.wait_pending(case_id, tier=1)
    assert view["pendingApproval"]["roles"] == ["admin"]
    app.host.clock.advance(24 * 3600 + 1)
    view = app.client.wait_stage(case_id, "expired", "failed")
    assert view["stage"] == "expired"
    assert webhook_posts(app.downstream, "accounts.update") == []


def test_redelivered_event_opens_no_second_case(app):
    """The same event twice maps onto one case; the downstream sees one effect."""
    body = plain_event("o-2", "order.cancel")
    first = app.client.send(body)
    second = app.client.send(body)
    assert first.json()["instanceId"] == second.json()["instanceId"]
    assert second.json()["redelivered"] is True
    app.client.wait_stage(first.json()["instanceId"], "completed", "failed")
    assert len(webhook_posts(app.downstream, "orders.cancel")) == 1


def test_two_decisions_sent_together_both_count(app):
    """Two approvers deciding at the same moment reach the 2-approver quorum; neither decision is lost."""
    from concurrent.futures import ThreadPoolExecutor

    body = plain_event("p-2", "payment.release", amount=70000, currency="EUR")
    case_id = app.client.send(body).json()["instanceId"]
    app.client.wait_pending(case_id)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda who: app.client.decide(case_id, who), [CAROL, DAVE]))
    assert [a.status_code for a in answers] == [202, 202]
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert sorted(view["outcome"]["approvers"]) == ["carol", "dave"]
    assert len(webhook_posts(app.downstream, "payments.release")) == 1
