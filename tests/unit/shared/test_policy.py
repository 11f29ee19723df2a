"""The policy file schema and its pure evaluation (shared/policy.py, shared/policies/default.yaml)."""

from __future__ import annotations

import json

import pytest
import yaml

from shared.case_errors import PolicyError
from shared.policy import DEFAULT_POLICY_PATH, evaluate, load_policy, match_rule, parse_policy
from tests.unit.shared.wf_helpers import confident_merge, make_classification, make_event, unsure_merge

POLICY = load_policy(None)


def decide(type_: str, risk: str = "read", merge=None, **attributes):
    return evaluate(
        POLICY, make_event(type_, **attributes), make_classification(risk=risk), merge or confident_merge()
    )


def test_default_policy_is_versioned_and_valid():
    """The shipped policy loads and carries a version."""
    assert POLICY.version == "2026-12-07.1"
    assert set(POLICY.risk_classes) == {"read", "write", "privileged", "irreversible"}


@pytest.mark.parametrize(
    ("type_", "attributes", "risk", "rule"),
    [
        ("order.cancel", {}, "write", "none"),
        ("document.received", {}, "read", "none"),
        ("refund.request", {"amount": 50}, "write", "none"),
        ("refund.request", {"amount": 50000}, "privileged", "single"),
        ("payment.release", {"amount": 100}, "write", "none"),
        ("payment.release", {"amount": "25000"}, "irreversible", "quorum"),
        ("account.change", {}, "privileged", "single"),
        ("github.deployment.created", {"environment": "production"}, "privileged", "single"),
        ("github.deployment.created", {"environment": "staging"}, "write", "none"),
        ("github.member.added", {"member": "bob"}, "privileged", "single"),
        ("github.repository.transferred", {}, "irreversible", "quorum"),
        ("github.release.deleted", {}, "irreversible", "quorum"),
    ],
)
def test_default_policy_decisions(type_, attributes, risk, rule):
    """Each example of the brief maps to the documented risk class and approval rule."""
    d = decide(type_, **attributes)
    assert (d.risk_class, d.approval.rule) == (risk, rule)


def test_privileged_escalates_from_approver_to_admin_in_24h_tiers():
    """Privileged: one approver within 24 h, then admin for 24 h."""
    d = decide("account.change")
    assert [(t.roles, t.timeout_s) for t in d.approval.tiers] == [(["approver"], 86400), (["admin"], 86400)]
    assert d.approval.required == 1


def test_irreversible_needs_two_of_approver_or_admin():
    """Irreversible: quorum of 2 with roles approver or admin."""
    d = decide("github.release.deleted")
    assert d.approval.required == 2
    assert d.approval.tiers[0].roles == ["approver", "admin"]


def test_unknown_event_type_falls_back_to_manual_review():
    """An event type no rule knows goes to manual review (privileged: needs approval)."""
    d = decide("mystery.event")
    assert d.rule_id == "unknown-event" and d.approval.rule == "single"


def test_judgment_can_raise_but_not_lower_the_risk():
    """A riskier classification raises the class; a milder one is ignored."""
    assert decide("order.cancel", risk="irreversible").risk_class == "irreversible"
    assert decide("account.change", risk="read").risk_class == "privileged"


def test_low_confidence_forces_a_human_review_on_a_no_approval_action():
    """needs_human on the merge turns approval 'none' into the policy's review approval."""
    d = decide("order.cancel", merge=unsure_merge())
    assert d.approval.rule == "single"
    assert "judgment routed to a human" in d.approval.reason


def test_decision_carries_retry_budgets_and_policy_version():
    """Retry policy and budgets come from the policy defaults; the version is recorded."""
    d = decide("order.cancel")
    assert d.retry.max_attempts == 3 and d.budgets.max_activities == 40
    assert d.policy_version == POLICY.version


def test_conditions_compare_numbers_and_missing_attributes_fail():
    """amount > threshold is numeric; a missing amount does not match the large-amount rule."""
    assert match_rule(POLICY, make_event("payment.release", amount=10001)).id == "payment-release-large"
    assert match_rule(POLICY, make_event("payment.release", amount=10000)).id == "payment-release"
    assert match_rule(POLICY, make_event("payment.release")).id == "payment-release"


def test_policy_json_file_is_accepted(tmp_path):
    """A JSON policy file loads like the YAML one."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps(yaml.safe_load(DEFAULT_POLICY_PATH.read_text())))
    assert load_policy(str(path)).version == POLICY.version


def test_rule_naming_an_unknown_tool_is_refused():
    """Cross-checks name the offending rule."""
    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    doc["rules"][0]["tool"] = "nope"
    with pytest.raises(PolicyError, match="unknown tool 'nope'"):
        parse_policy(yaml.safe_dump(doc))


def test_rule_may_not_lower_its_tool_risk():
    """A rule setting a lower risk class than its tool's is invalid."""
    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    doc["rules"].append(
        {"id": "x", "type": "x.y", "action": "a", "tool": "accounts.update", "risk_class": "read"}
    )
    with pytest.raises(PolicyError, match="lowers tool"):
        parse_policy(yaml.safe_dump(doc))


def test_quorum_needs_at_least_two():
    """quorum with required 1 is a schema error naming the field."""
    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    doc["risk_classes"]["irreversible"]["required"] = 1
    with pytest.raises(PolicyError, match=r"risk_classes\.irreversible"):
        parse_policy(yaml.safe_dump(doc))


def test_missing_policy_file_is_a_policy_error(tmp_path):
    """A missing file names the path."""
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "absent.yaml"))
