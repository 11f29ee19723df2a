"""shared/decision_records.py: every submitted decision is accounted for in the case's outcomes."""

from __future__ import annotations


def test_decision_outcomes_account_for_every_decision():
    """Submitted decisions get the tier's verdict, or pending / not_counted; verdicts without a submission
    record (storage was down) are listed too; endpoint refusals are listed as refused."""
    from shared.decision_records import decision_outcomes

    records = [
        {"kind": "decision_submitted", "data": {"nonce": "a", "approver": "bob", "tier": 0}},
        {"kind": "decision_submitted", "data": {"nonce": "b", "approver": "carol", "tier": 0}},
        {"kind": "decision_submitted", "data": {"nonce": "c", "approver": "dave", "tier": 1}},
        {"kind": "decision_submitted", "data": {"nonce": "d", "approver": "erin", "tier": 0}},
        {"kind": "decision", "data": {"nonce": "a", "approver": "bob"}},
        {"kind": "decision_refused", "data": {"raw": {"nonce": "a"}, "reason": "replayed"}},
        {
            "kind": "decision_refused",
            "data": {"raw": {"nonce": "b", "approver": "carol"}, "reason": "expired"},
        },
        {"kind": "decision", "data": {"nonce": "e", "approver": "frank", "tier": 0}},
        {"kind": "decision_refused", "data": {"by": "endpoint", "approver": "alice", "reason": "self"}},
    ]
    out = {o["approver"]: (o["status"], o["reason"]) for o in decision_outcomes(records, open_tiers=[1])}
    assert out["bob"] == ("counted", None)
    assert out["carol"] == ("refused", "expired")
    assert out["dave"] == ("pending", None)
    assert out["erin"][0] == "not_counted" and out["erin"][1]
    assert out["frank"] == ("counted", None)
    assert out["alice"] == ("refused", "self")
