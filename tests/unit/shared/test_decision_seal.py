"""Decision seals (shared/decision_seal.py) through the verify activity (activities/decisions.verdict):
every altered field breaks the seal, binding to case and tier, missing, short or unresolved (Key Vault
reference text) keys."""

from __future__ import annotations

import json

import pytest

from activities.decisions import verdict
from shared import decision_seal
from tests.fixtures.key_vault import reference

KEY = "unit-test-signing-key-0123456789abcdefghij"


def _decision(**over):
    d = {
        "decision": "approve",
        "reason": "ok",
        "approver": "bob",
        "roles": ["approver"],
        "at": "2026-01-05T09:30:00+00:00",
        "evidence_hash": "sha256:x",
        "case_instance_id": "case-1",
        "approval_instance_id": "case-1-approval-0",
        "tier": 0,
        "nonce": "n1",
    }
    d.update(over)
    d["seal"] = decision_seal.seal(KEY.encode(), d)
    return d


def _verdict(d, **binding):
    payload = {
        "decision": d,
        "case_instance_id": "case-1",
        "approval_instance_id": "case-1-approval-0",
        "tier": 0,
        **binding,
    }
    return verdict(payload, {decision_seal.SETTING: KEY})


def test_a_sealed_decision_verifies_and_a_json_string_too():
    assert _verdict(_decision()) == {"ok": True, "reason": None}
    assert _verdict(json.dumps(_decision()))["ok"] is True


@pytest.mark.parametrize(
    "field, value",
    [
        ("approver", "mallory"),
        ("roles", ["admin"]),
        ("decision", "reject"),
        ("evidence_hash", "sha256:y"),
        ("at", "2030-01-01T00:00:00+00:00"),
        ("nonce", "n2"),
        ("tier", 1),
    ],
)
def test_any_altered_field_breaks_the_seal(field, value):
    d = _decision()
    d[field] = value
    assert "does not match" in _verdict(d)["reason"]


def test_unsealed_and_misbound_decisions_are_refused():
    unsealed = _decision()
    del unsealed["seal"]
    assert "no seal" in _verdict(unsealed)["reason"]
    assert "another case" in _verdict(_decision(), case_instance_id="case-2")["reason"]
    assert "another case" in _verdict(_decision(), tier=1)["reason"]


def test_missing_key_refuses_every_decision():
    result = verdict(
        {
            "decision": _decision(),
            "case_instance_id": "case-1",
            "approval_instance_id": "case-1-approval-0",
            "tier": 0,
        },
        {},
    )
    assert result["ok"] is False and decision_seal.SETTING in result["reason"]
    with pytest.raises(decision_seal.SigningKeyMissing, match="Key Vault"):
        decision_seal.signing_key({"WEBSITE_INSTANCE_ID": "x"})
    with pytest.raises(decision_seal.SigningKeyMissing, match="shorter"):
        decision_seal.signing_key({decision_seal.SETTING: "short"})


def test_unresolved_key_vault_reference_is_no_key():
    """App Service leaves the reference text in the setting when it cannot fetch the secret. That text is
    long enough for MIN_KEY_CHARS and anyone who knows the vault URL can compute it: a decision sealed with
    it is refused, and the key counts as missing (SigningKeyMissing, the 503 of the decision routes)."""
    text = reference("case-decision-signing-key")
    assert len(text) >= decision_seal.MIN_KEY_CHARS
    forged = _decision()
    forged["seal"] = decision_seal.seal(text.encode(), forged)
    for env in ({decision_seal.SETTING: text}, {decision_seal.SETTING: f" {text.upper()} "}):
        result = verdict(
            {
                "decision": forged,
                "case_instance_id": "case-1",
                "approval_instance_id": "case-1-approval-0",
                "tier": 0,
            },
            env,
        )
        assert result["ok"] is False and "did not resolve" in result["reason"]
        assert "vault.azure.net" not in result["reason"]
    with pytest.raises(decision_seal.SigningKeyMissing, match="Key Vault reference that did not resolve"):
        decision_seal.signing_key({decision_seal.SETTING: text, "WEBSITE_INSTANCE_ID": "x"})
