"""Audit records riding in a step's input (orchestrator version 2): ``@case_step`` appends them to the
case's trail (real Azurite) before the step's body, once per record id across retries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import activities.step as step_module
from activities.step import Step, case_step
from shared import audit
from shared.contracts.steps import AuditRecordIn, StepInput, StepModel

pytestmark = pytest.mark.azurite
AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


class _Input(StepInput):
    case_instance_id: str
    event_id: str


class _Out(StepModel):
    seen: int


def _records(case_id: str, *kinds: str) -> list[dict]:
    return [
        AuditRecordIn(record_id=f"{case_id}:{n:03d}:{kind}", kind=kind, data={"n": n}, at=AT).model_dump(
            mode="json"
        )
        for n, kind in enumerate(kinds, 1)
    ]


def test_records_are_appended_before_the_body_and_once_across_retries(storage_settings, monkeypatch):
    monkeypatch.setattr(step_module.AppSettings, "current", classmethod(lambda cls: storage_settings))
    case_id, failures = "case-ride", [1]

    @case_step("ride", _Input, done="rode")
    def ride(payload: _Input, step: Step) -> _Out:
        seen = len(audit.read(storage_settings, case_id))  # the body runs after the append
        if failures:
            failures.pop()
            raise RuntimeError("the step's effect failed")
        return _Out(seen=seen)

    payload = {"case_instance_id": case_id, "event_id": "e-1", "audit": _records(case_id, "stage", "stage")}
    with pytest.raises(RuntimeError):
        ride(payload)
    assert [r.record_id for r in audit.read(storage_settings, case_id)] == [
        f"{case_id}:001:stage", f"{case_id}:002:stage"
    ]  # a failed step's records stay: it ran after them

    assert ride(payload) == {"seen": 2}  # the retry carries them again: nothing appended twice
    trail = audit.read(storage_settings, case_id)
    assert len(trail) == 2 and audit.verify(trail).ok

    more = _records(case_id, "stage", "stage", "x")
    later = {"case_instance_id": case_id, "event_id": "e-1", "audit": more}
    assert ride(later) == {"seen": 3}
    assert ride({"case_instance_id": case_id, "event_id": "e-1"}) == {"seen": 3}  # no records: no append


def test_decide_policy_appends_the_riding_records_and_the_completed_classified_record(
    storage_settings, monkeypatch
):
    """Orchestration version 4.0: one batch after the decision, the classified record completed with the
    classification, merge and decision; a retry appends nothing again."""
    import activities.case_steps as steps
    from tests.unit.orchestrations.orch_fixtures import event

    monkeypatch.setattr(step_module.AppSettings, "current", classmethod(lambda cls: storage_settings))
    case_id = "case-decide"
    loaded = steps.load_policy._function.get_user_function()({"case_instance_id": case_id})
    classify = steps.classify_case._function.get_user_function()
    the_event = event("order.cancel", amount=20)
    classified = classify({"case_instance_id": case_id, "event": the_event})["value"]
    assess = steps.assess_risk._function.get_user_function()
    ref = {"version": loaded["version"], "digest": loaded["digest"]}
    assessment = assess({"case_instance_id": case_id, "event": the_event, "classification": classified,
                         "policy_ref": ref})["value"]
    received, template = _records(case_id, "stage", "stage")
    template["data"] = {"stage": "classified", "judgment": {"source": "rules"}}
    payload = {"case_instance_id": case_id, "event": the_event, "classification": classified,
               "assessments": [assessment], "policy_ref": ref,
               "audit": [received], "record": template}
    decide = steps.decide_policy._function.get_user_function()

    out = decide(payload)
    assert out["recorded"] == template["record_id"]
    trail = audit.read(storage_settings, case_id)
    assert [r.record_id for r in trail] == [received["record_id"], template["record_id"]]
    data = trail[1].data
    assert data["stage"] == "classified" and data["judgment"] == {"source": "rules"}
    assert data["classification"] == classified
    assert data["merge"] == out["merge"] and data["decision"] == out["decision"]

    assert decide(payload) == out  # retried: the same output, nothing appended twice
    assert len(audit.read(storage_settings, case_id)) == 2
    assert "recorded" not in decide({k: v for k, v in payload.items() if k not in ("audit", "record")})
