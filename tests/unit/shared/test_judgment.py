"""RulesJudgment classification and specialists (shared/judgment.py)."""

from __future__ import annotations

import pytest

from shared.judgment import RulesJudgment
from shared.policy import load_policy
from tests.unit.shared.wf_helpers import make_classification, make_event

POLICY = load_policy(None)
JUDGE = RulesJudgment(large_amount=10000)


def test_known_types_are_classified_with_high_confidence():
    """A known type gets its category, action and 0.9 confidence."""
    c = JUDGE.classify(make_event("order.cancel"))
    assert (c.category, c.action, c.risk_class, c.confidence) == ("orders", "order.cancel", "write", 0.9)


def test_large_payment_is_irreversible_and_missing_amount_lowers_confidence():
    """Amount over the threshold raises the risk; no amount lowers confidence."""
    assert JUDGE.classify(make_event("payment.release", amount=20000)).risk_class == "irreversible"
    assert JUDGE.classify(make_event("payment.release")).confidence == 0.5


def test_unknown_type_has_low_confidence():
    """Unknown types route to manual review with confidence 0.2."""
    c = JUDGE.classify(make_event("mystery.thing"))
    assert c.action == "manual.review" and c.confidence < 0.6


def test_self_granted_membership_is_rejected_by_the_requester_specialist():
    """A member adding themselves gets a reject recommendation."""
    event = make_event("github.member.added", requester="octocat", member="OctoCat")
    a = JUDGE.assess("requester_history", event, make_classification("privileged"), POLICY)
    assert a.recommendation == "reject"


def test_policy_specialist_flags_disagreement():
    """The policy specialist escalates when judgment and policy name different actions."""
    a = JUDGE.assess("policy", make_event("order.cancel"), make_classification(action="order.refund"), POLICY)
    assert a.recommendation == "escalate"


def test_unknown_specialist_raises():
    """Only the declared specialists exist."""
    with pytest.raises(ValueError, match="unknown specialist"):
        JUDGE.assess("oracle", make_event("order.cancel"), make_classification(), POLICY)
