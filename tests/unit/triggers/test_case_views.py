"""The approvals API's pure logic: body parsing, fast pre-checks and views (triggers/case_views.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.contracts.case import ApprovalRequest
from shared.identity import Principal
from triggers.case_views import case_view, parse_decision_body, pending_request, precheck_decision

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def request() -> ApprovalRequest:
    pack = {
        "case_instance_id": "c",
        "event_id": "e",
        "event_type": "account.change",
        "requester": "alice",
        "action_summary": "s",
        "target": "t",
        "estimated_impact": "i",
        "rollback_hint": "r",
        "risk_class": "privileged",
        "policy_version": "v",
        "evidence": {},
    }
    return ApprovalRequest.model_validate(
        {
            "case_instance_id": "c",
            "approval_instance_id": "c-approval-0",
            "tier": 0,
            "tier_count": 2,
            "roles": ["approver"],
            "rule": "single",
            "required": 1,
            "requested_at": NOW.isoformat(),
            "expires_at": (NOW + timedelta(hours=24)).isoformat(),
            "remind_at": (NOW + timedelta(hours=4)).isoformat(),
            "evidence_hash": "sha256:e",
            "pack": pack,
        }
    )


def who(name: str, *roles: str) -> Principal:
    return Principal(name=name, roles=frozenset(roles))


def test_body_must_name_approve_or_reject():
    """Anything but approve/reject is a 400 naming the field."""
    assert parse_decision_body({"decision": "approve", "reason": "fine"}) == ("approve", "fine", None)
    bad = parse_decision_body({"decision": "yes"})
    assert bad.status == 400 and bad.body["fields"] == ["decision"]
    assert parse_decision_body([1]).status == 400


def test_precheck_answers():
    """Allowed → None; requester → 403 self-approval; no role → 403; stale evidence/decided → 409."""
    r = request()
    assert precheck_decision(who("bob", "approver"), r, "alice", [], None, NOW) is None
    own = precheck_decision(who("alice", "approver"), r, "alice", [], None, NOW)
    assert own.status == 403 and "self-approval" in own.body["error"]
    assert precheck_decision(who("eve", "viewer"), r, "alice", [], None, NOW).status == 403
    assert precheck_decision(who("bob", "approver"), r, "alice", ["bob"], None, NOW).status == 409
    assert precheck_decision(who("bob", "approver"), r, "alice", [], "sha256:old", NOW).status == 409
    # expiry is the tier's call (the orchestration's clock), never the endpoint's
    assert precheck_decision(who("bob", "approver"), r, "alice", [], None, NOW + timedelta(days=2)) is None


def test_pending_request_only_while_awaiting_approval():
    """A completed case has no pending request; an awaiting one yields the parsed request."""
    status = {
        "stage": "awaiting_approval",
        "approvalInstanceId": "c-approval-0",
        "pendingApproval": request().model_dump(mode="json"),
    }
    assert pending_request(status).approval_instance_id == "c-approval-0"
    assert pending_request({**status, "stage": "completed"}) is None
    assert case_view("c", "Running", status, progress={"tier": 0})["stage"] == "awaiting_approval"
    assert case_view("c", "Pending", None)["stage"] == "received"


def test_stage_flips_to_awaiting_approval_only_when_the_tier_accepts_decisions():
    """Before the tier instance exists the case shows the stage before; a terminated case says so."""
    status = {
        "stage": "awaiting_approval",
        "approvalInstanceId": "c-approval-0",
        "pendingApproval": request().model_dump(mode="json"),
        "timeline": [{"stage": "received"}, {"stage": "classified"}, {"stage": "awaiting_approval"}],
    }
    early = case_view("c", "Running", status, progress=None)
    assert early["stage"] == "classified" and early["pendingApproval"] is None
    assert case_view("c", "Running", status, progress={})["stage"] == "awaiting_approval"
    assert case_view("c", "Terminated", status, progress={})["stage"] == "terminated"
