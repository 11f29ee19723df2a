"""devhost/local_secrets.py: one decision-signing key per data directory, generated once and kept; a key
already set is kept; none is generated in Azure."""

from __future__ import annotations

from devhost.local_secrets import ensure_local_secrets
from shared import decision_seal


def test_devhost_generates_one_key_per_data_dir(tmp_path):
    env: dict[str, str] = {}
    assert ensure_local_secrets(tmp_path, env) == [decision_seal.SETTING]
    first = env[decision_seal.SETTING]
    again: dict[str, str] = {}
    ensure_local_secrets(tmp_path, again)
    assert again[decision_seal.SETTING] == first and len(first) >= decision_seal.MIN_KEY_CHARS
    other: dict[str, str] = {}
    ensure_local_secrets(tmp_path / "other", other)
    assert other[decision_seal.SETTING] != first
    given = {decision_seal.SETTING: "mine" * 10}
    assert ensure_local_secrets(tmp_path, given) == [] and given[decision_seal.SETTING] == "mine" * 10
    azure = {"WEBSITE_INSTANCE_ID": "x"}
    assert ensure_local_secrets(tmp_path, azure) == [] and decision_seal.SETTING not in azure
