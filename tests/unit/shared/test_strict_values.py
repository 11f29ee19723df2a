"""Strict amounts (issue 9 item 3): parsing table, policy fail-closed branch, ingress 400 naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared import strict_values
from shared.contracts.event import BusinessEvent
from shared.normalize import normalize_http
from shared.normalize.errors import InvalidEvent
from shared.policy import DEFAULT_POLICY_PATH, load_policy, match_rule
from shared.settings import AppSettings
from shared.strict_values import UnreadableValue, read_decimal

READABLE = [
    (20000, Decimal(20000)),
    (0, Decimal(0)),
    (-5, Decimal(-5)),
    (1200.5, Decimal("1200.5")),
    ("20000", Decimal(20000)),
    (" 20000.00 ", Decimal("20000.00")),
    ("-12", Decimal(-12)),
]
UNREADABLE = ["20,000", "20000 EUR", "NaN", "nan", "Infinity", "-Infinity", "1e5", "0x10", "", "twenty",
              True, False, float("nan"), float("inf"), [20000], {"value": 20000}, "9" * 100, 10**100]


@pytest.mark.parametrize(("raw", "expected"), READABLE)
def test_readable_amounts(raw, expected):
    assert read_decimal(raw) == expected


@pytest.mark.parametrize("raw", UNREADABLE, ids=[repr(r)[:20] for r in UNREADABLE])
def test_unreadable_amounts(raw):
    with pytest.raises(UnreadableValue):
        read_decimal(raw)


def _event(amount) -> BusinessEvent:
    return BusinessEvent(event_id="e1", source="t", type="payment.release", requester="alice",
                         occurred_at=datetime.now(UTC), format="plain", channel="http",
                         attributes={"amount": amount})


@pytest.mark.parametrize("amount", ["20,000", "20000 EUR", "NaN", True, "Infinity"])
def test_policy_takes_the_stricter_rule_for_an_unreadable_amount(amount):
    """payment-release-large (irreversible, quorum) wins when the amount cannot be read."""
    assert match_rule(load_policy(None), _event(amount)).id == "payment-release-large"


def test_policy_reads_good_amounts_as_before():
    policy = load_policy(None)
    assert match_rule(policy, _event(20000)).id == "payment-release-large"
    assert match_rule(policy, _event("20000")).id == "payment-release-large"
    assert match_rule(policy, _event(100)).id == "payment-release"
    assert match_rule(policy, _event(None)).id == "payment-release"


def _plain(data: dict, attributes: dict | None = None) -> bytes:
    body = {"id": "p1", "type": "payment.release", "requester": "alice", "data": data}
    if attributes is not None:
        body["attributes"] = attributes
    return json.dumps(body).encode()


@pytest.mark.parametrize("amount", ["20,000", "20000 EUR", "NaN", True, [1], {"v": 1}])
def test_ingress_refuses_an_unreadable_amount_naming_the_field(amount):
    with pytest.raises(InvalidEvent) as info:
        normalize_http({"Content-Type": "application/json"}, _plain({"amount": amount}), AppSettings())
    assert info.value.fields == ["data.amount"]


def test_ingress_refuses_two_amounts_that_disagree():
    with pytest.raises(InvalidEvent) as info:
        normalize_http({"Content-Type": "application/json"}, _plain({"amount": 20000}, {"amount": 1}),
                       AppSettings())
    assert info.value.fields == ["attributes.amount", "data.amount"]


def test_ingress_accepts_one_amount_given_twice_alike():
    event = normalize_http({"Content-Type": "application/json"},
                           _plain({"amount": 20000}, {"amount": "20000"}), AppSettings())
    assert event.attributes["amount"] == "20000"


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}',
                                  '{"a": ' + "9" * 4000 + "}", "[" * 1000 + "]" * 1000])
def test_hostile_json_is_refused(text):
    with pytest.raises(strict_values.HostileJson):
        strict_values.loads(text)


def test_no_amount_given_reaches_the_merge():
    """A payment release without an amount: the classification's low confidence routes it to a person."""
    from shared.judgment import RulesJudgment
    from shared.merge import merge_assessments

    policy = load_policy(str(DEFAULT_POLICY_PATH))
    event = _event(None)
    judgment = RulesJudgment()
    classification = judgment.classify(event)
    assert "no amount given" in classification.rationale
    assessments = [judgment.assess(s, event, classification, policy)
                   for s in ("policy", "risk", "requester_history")]
    merged = merge_assessments(assessments, policy.defaults.low_confidence_threshold)
    assert merged.needs_human
