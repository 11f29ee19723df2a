"""Stage machine, apply plan and maintenance selection (stages.py, apply_plan.py, maintenance.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.apply_plan import plan_action
from shared.case_errors import ApplyRefused, StageError
from shared.contracts.case import ApprovalOutcome
from shared.maintenance import InstanceView, overdue_approvals, purge_candidates
from shared.policy import evaluate, load_policy
from shared.stages import CaseStatusTracker
from tests.unit.shared.wf_helpers import confident_merge, make_classification, make_event

T0 = datetime(2026, 1, 5, tzinfo=UTC)
POLICY = load_policy(None)


def test_tracker_records_each_stage_with_its_time():
    """Entering stages appends to the timeline; a skipped transition raises StageError."""
    t = CaseStatusTracker("c", make_event("order.cancel"), T0)
    t.enter("classified", T0 + timedelta(seconds=1))
    with pytest.raises(StageError):
        t.enter("completed", T0 + timedelta(seconds=2))
    assert [e["stage"] for e in t.to_json()["timeline"]] == ["received", "classified"]


def _approval(outcome: str, *decisions) -> ApprovalOutcome:
    return ApprovalOutcome.model_validate(
        {
            "tier": 0,
            "outcome": outcome,
            "refused": [],
            "decided_at": T0.isoformat(),
            "accepted": [
                {
                    "decision": v,
                    "reason": "",
                    "approver": a,
                    "roles": r,
                    "at": T0.isoformat(),
                    "evidence_hash": "h",
                }
                for a, r, v in decisions
            ],
        }
    )


def test_apply_refuses_auto_for_an_action_that_needs_approval():
    """account.change cannot be applied in mode auto."""
    event = make_event("account.change")
    decision = evaluate(POLICY, event, make_classification("privileged"), confident_merge())
    with pytest.raises(ApplyRefused, match="cannot apply automatically"):
        plan_action("c", event, decision, "auto", None)


def test_apply_refuses_an_approval_short_of_the_quorum_or_by_the_requester():
    """Quorum 2 with one approver, or an approval by the requester, is refused."""
    event = make_event("payment.release", amount=20000)
    decision = evaluate(POLICY, event, make_classification("irreversible"), confident_merge())
    with pytest.raises(ApplyRefused, match="2 distinct approvers"):
        plan_action("c", event, decision, "approved", _approval("approved", ("bob", ["approver"], "approve")))
    with pytest.raises(ApplyRefused, match="cannot approve"):
        plan_action(
            "c",
            event,
            decision,
            "approved",
            _approval("approved", ("bob", ["approver"], "approve"), ("alice", ["admin"], "approve")),
        )
    ok = plan_action(
        "c",
        event,
        decision,
        "approved",
        _approval("approved", ("bob", ["approver"], "approve"), ("carol", ["admin"], "approve")),
    )
    assert ok.outcome == "approved" and ok.tool == decision.adapter


def test_deployment_outcome_parameters_come_from_the_event():
    """The GitHub tool gets the deployment's statuses_url and environment."""
    event = make_event(
        "github.deployment.created",
        environment="production",
        deployment_statuses_url="https://api.github.com/x/statuses",
    )
    decision = evaluate(POLICY, event, make_classification("privileged"), confident_merge())
    request = plan_action(
        "c", event, decision, "rejected", _approval("rejected", ("bob", ["approver"], "reject"))
    )
    assert request.parameters["statuses_url"] == "https://api.github.com/x/statuses"
    assert request.tool == "github-deployment-status" and request.outcome == "rejected"


def test_maintenance_selects_overdue_approvals_and_old_finished_instances():
    """Reminders for approvals past remindAt; purge for finished instances past retention only."""
    now = T0 + timedelta(days=40)
    waiting = {
        "stage": "awaiting_approval",
        "pendingApproval": {"remind_at": (now - timedelta(minutes=1)).isoformat()},
    }
    fresh = {
        "stage": "awaiting_approval",
        "pendingApproval": {"remind_at": (now + timedelta(hours=1)).isoformat()},
    }
    views = [
        InstanceView("case-a", "case_workflow", "Running", now, waiting),
        InstanceView("case-b", "case_workflow", "Running", now, fresh),
        InstanceView("case-c", "case_workflow", "Completed", T0, {"stage": "completed"}),
        InstanceView("case-c-approval-0", "approval_tier", "Completed", T0, None),
        InstanceView("case-d", "case_workflow", "Completed", now - timedelta(days=1), None),
        InstanceView("case-maintenance", "case_maintenance", "Completed", T0, None),
    ]
    assert [r["case_instance_id"] for r in overdue_approvals(views, now)] == ["case-a"]
    assert purge_candidates(views, now, 30, keep=["case-maintenance"]) == ["case-c", "case-c-approval-0"]
