"""Pure approval checks: sealing, re-checking decisions, quorum tally (shared/approvals.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.approvals import build_evidence_pack, check_decision, seal, tally
from shared.contracts.case import ApprovalDecision, ApprovalGate
from shared.policy import evaluate, load_policy
from tests.unit.shared.wf_helpers import confident_merge, make_classification, make_event

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def gate(required: int = 1) -> ApprovalGate:
    return ApprovalGate(
        case_instance_id="case-1",
        tier=0,
        requester="alice",
        roles=["approver"],
        rule="single",
        required=required,
        expires_at=NOW + timedelta(hours=1),
        evidence_hash="sha256:e",
    )


def raw(
    approver: str = "bob", roles=("approver",), verdict: str = "approve", evidence: str = "sha256:e"
) -> dict:
    return {
        "decision": verdict,
        "reason": "ok",
        "approver": approver,
        "roles": list(roles),
        "at": NOW.isoformat(),
        "evidence_hash": evidence,
    }


def test_allowed_decision_is_accepted():
    """An approver with the role, on the sealed evidence, before expiry, counts."""
    assert check_decision(raw(), gate(), [], NOW).accepted


def test_requester_cannot_decide_their_own_case_whatever_the_case_of_letters():
    """Self-approval is refused (identities compare case-insensitively)."""
    check = check_decision(raw(approver="ALICE"), gate(), [], NOW)
    assert not check.accepted and "separation of duties" in (check.reason or "")


def test_missing_role_is_refused():
    """A decision from someone without an allowed role is refused."""
    assert "none of the roles" in (check_decision(raw(roles=("viewer",)), gate(), [], NOW).reason or "")


def test_expired_decision_is_refused():
    """At or after expires_at the decision is refused."""
    assert "expired" in (check_decision(raw(), gate(), [], NOW + timedelta(hours=1)).reason or "")


def test_same_approver_twice_is_refused():
    """An approver who already decided cannot decide again."""
    first = ApprovalDecision.model_validate(raw())
    assert "already decided" in (check_decision(raw(approver="Bob"), gate(), [first], NOW).reason or "")


def test_other_evidence_is_refused():
    """A decision made on other evidence than the sealed pack is refused."""
    assert "different evidence" in (check_decision(raw(evidence="sha256:x"), gate(), [], NOW).reason or "")


def test_invalid_payloads_are_refused_not_raised():
    """Garbage and JSON strings without the fields are refused with a reason."""
    assert check_decision("not json", gate(), [], NOW).reason == "decision is not JSON"
    assert "invalid" in (check_decision({"decision": "maybe"}, gate(), [], NOW).reason or "")
    assert check_decision(json.dumps(raw()), gate(), [], NOW).accepted


def test_tally_counts_distinct_approvers_and_vetoes():
    """Quorum counts distinct approvers; any accepted reject wins."""
    bob = ApprovalDecision.model_validate(raw("bob"))
    carol = ApprovalDecision.model_validate(raw("carol"))
    assert tally([bob], 2) is None
    assert tally([bob, carol], 2) == "approved"
    assert tally([bob, ApprovalDecision.model_validate(raw("dan", verdict="reject"))], 2) == "rejected"


def test_seal_covers_exactly_what_the_reviewer_sees():
    """The evidence hash is stable for the same pack and changes with any shown field."""
    policy = load_policy(None)
    event = make_event("payment.release", amount=25000, currency="EUR")
    decision = evaluate(policy, event, make_classification(), confident_merge())
    pack = build_evidence_pack("case-1", event, make_classification(), confident_merge(), decision)
    assert seal(pack) == seal(pack.model_copy())
    assert seal(pack) != seal(pack.model_copy(update={"rollback_hint": "other"}))
    assert "25000 EUR" in pack.action_summary and pack.risk_class == "irreversible"


def test_evidence_pack_stays_small_for_large_events():
    """Many or long attributes are bounded so the pending approval fits in the custom status."""
    policy = load_policy(None)
    attrs = {f"k{i:03d}": "x" * 5000 for i in range(200)}
    event = make_event("order.cancel", **attrs)
    decision = evaluate(policy, event, make_classification(), confident_merge())
    pack = build_evidence_pack("case-1", event, make_classification(), confident_merge(), decision)
    assert len(pack.model_dump_json()) < 8000
