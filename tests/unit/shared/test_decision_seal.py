"""Decision seals (shared/decision_seal.py) through the verify activity (activities/decisions.verdict):
every altered field breaks the seal, binding to case and tier, missing or short keys."""

from __future__ import annotations

import json

import pytest

from activities.decisions import verdict
from shared import decision_seal

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
