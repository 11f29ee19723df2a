"""The policy by reference (shared/policy_ref.py, shared/policy_store.py): what load_policy returns, what the
judgment steps get, and how a reference is resolved once per process."""

from __future__ import annotations

import json
import os

import pytest

from activities import case_steps
from shared import policy_store
from shared.case_errors import PolicyError
from shared.policy import DEFAULT_POLICY_PATH, load_policy
from shared.policy_ref import from_load_result, load_result, policy_digest
from shared.settings import AppSettings
from tests.unit.orchestrations.orch_fixtures import user_fn
from tests.unit.shared.wf_helpers import make_event

POLICY = load_policy(None)


def settings_for(path) -> AppSettings:
    return AppSettings(storage_connection="UseDevelopmentStorage=true", policy_path=str(path))


def test_load_result_is_a_small_reference_with_the_defaults():
    """load_policy's output names the document (version, digest) and carries only the defaults the
    orchestrator needs before a decision; the judgment steps get the reference, not the document."""
    result = load_result(POLICY, policy_digest(POLICY))
    assert len(json.dumps(result)) < 600 < len(json.dumps(POLICY.model_dump(mode="json")))
    loaded = from_load_result(result)
    assert loaded.input == {"policy_ref": {"version": POLICY.version, "digest": policy_digest(POLICY)}}
    assert loaded.budgets == POLICY.defaults.budgets and loaded.retry == POLICY.defaults.retry


def test_an_old_history_result_keeps_passing_the_whole_document():
    """A load_policy result recorded before references (the whole document) is still understood, and its
    instance keeps handing the document itself to the next steps."""
    raw = POLICY.model_dump(mode="json")
    loaded = from_load_result(raw)
    assert loaded.input == {"policy": raw} and loaded.version == POLICY.version
    assert policy_store.policy_for(None, loaded.input["policy"], settings_for(DEFAULT_POLICY_PATH)) == POLICY


def test_digest_ignores_formatting_of_the_file(tmp_path):
    """The same policy as YAML and as JSON has one digest (it covers the validated document)."""
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps(POLICY.model_dump(mode="json"), indent=3))
    assert policy_store.current(settings_for(as_json))[1] == policy_digest(POLICY)


def test_reference_resolves_from_the_process_cache_even_after_the_file_changed(tmp_path):
    """Once loaded, a document is found by digest without reading the file; a changed file is read again
    (new digest), and a digest neither cached nor in the file fails closed with both versions named."""
    path = tmp_path / "policy.json"
    doc = POLICY.model_dump(mode="json")
    doc["version"] = "test-ref-1"
    path.write_text(json.dumps(doc))
    settings = settings_for(path)
    first, digest = policy_store.current(settings)
    assert policy_store.current(settings) == (first, digest)  # cached: same objects

    doc["version"] = "test-ref-2"
    path.write_text(json.dumps(doc))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second, digest2 = policy_store.current(settings)
    assert second.version == "test-ref-2" and digest2 != digest
    assert policy_store.resolve(settings, {"version": "test-ref-1", "digest": digest}) is first

    with pytest.raises(PolicyError, match=r"test-ref-0.*test-ref-2"):
        policy_store.resolve(settings, {"version": "test-ref-0", "digest": "sha256:" + "0" * 64})


def test_judgment_steps_decide_the_same_with_a_reference(monkeypatch):
    """classify → assess → decide give the same decision with a reference as with the whole document."""
    monkeypatch.delenv("CASE_POLICY_PATH", raising=False)
    event = make_event("account.change").model_dump(mode="json")
    ref = from_load_result(user_fn(case_steps.load_policy)({"case_instance_id": "c-1"}))

    def decide(policy_input):
        base = {"case_instance_id": "c-1", "event": event, **policy_input}
        classification = user_fn(case_steps.classify_case)(base)
        with_class = {**base, "classification": classification}
        assessments = [
            user_fn(step)(with_class)
            for step in (case_steps.assess_policy, case_steps.assess_risk,
                         case_steps.assess_requester_history)
        ]
        return user_fn(case_steps.decide_policy)({**with_class, "assessments": assessments})

    assert decide(ref.input) == decide({"policy": POLICY.model_dump(mode="json")})
