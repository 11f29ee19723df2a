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
    assert data["decision"] == out["decision"] and data["merge"] == {**out["merge"], "inputs": [assessment]}
    assert out["merge"]["inputs"] == []  # the provenance is on the record, not copied into the output

    assert decide(payload) == out  # retried: the same output, nothing appended twice
    assert len(audit.read(storage_settings, case_id)) == 2
    assert "recorded" not in decide({k: v for k, v in payload.items() if k not in ("audit", "record")})


def _failing_append(*_args, **_kwargs):
    from azure.core.exceptions import ServiceRequestError

    raise ServiceRequestError("storage is down")


def test_beside_the_body_the_effect_waits_for_the_append_and_never_runs_without_it(
    storage_settings, monkeypatch
):
    """``audit_beside``: the records are appended while the body claims its ledger key; the effect (the
    ledger's ``before`` waits for the append) runs only with the records on the trail. When the append
    fails, the claim is released, the effect never runs and the step fails with the append's error; the
    retry appends and acts once."""
    from shared import ledger
    from shared.storage import StorageUnavailable

    monkeypatch.setattr(step_module.AppSettings, "current", classmethod(lambda cls: storage_settings))
    case_id, key = "case-beside", "scope-beside:act"
    effects: list[int] = []

    @case_step("beside", _Input, done="acted", audit_beside=True)
    def act(payload: _Input, step: Step) -> _Out:
        def effect() -> dict:
            effects.append(len(audit.read(storage_settings, case_id)))  # the trail the effect ran after
            return {"ok": True}

        ledger.apply_once(storage_settings, key, effect, before=step.audited)
        return _Out(seen=len(effects))

    payload = {"case_instance_id": case_id, "event_id": "e-1", "audit": _records(case_id, "stage", "stage")}
    with monkeypatch.context() as down:
        down.setattr(audit, "append_many", _failing_append)
        with pytest.raises(StorageUnavailable, match="beside: storage unavailable"):
            act(payload)
    assert effects == [] and ledger.get(storage_settings, key) is None  # no effect, the claim released
    assert audit.read(storage_settings, case_id) == []

    assert act(payload) == {"seen": 1}  # the retry: the claim is free at once (no busy grace)
    assert effects == [2]  # the effect ran once, after both records were on the trail
    assert act(payload) == {"seen": 1} and effects == [2]  # recorded: neither acted nor appended again
    assert len(audit.read(storage_settings, case_id)) == 2


def test_beside_a_failed_append_wins_over_what_the_body_raised(storage_settings, monkeypatch):
    """A body error the step would turn into an output (``recover``) does not hide a failed append: the
    step raises the append's error, so it runs again and its records reach the trail."""
    from shared.storage import StorageUnavailable

    monkeypatch.setattr(step_module.AppSettings, "current", classmethod(lambda cls: storage_settings))
    case_id = "case-beside-refused"

    @case_step("refuse", _Input, done="refused", audit_beside=True,
               recover=lambda exc, inp, fields: _Out(seen=-1) if isinstance(exc, ValueError) else None)
    def refuse(payload: _Input, step: Step) -> _Out:
        raise ValueError("refused by the plan")

    payload = {"case_instance_id": case_id, "event_id": "e-1", "audit": _records(case_id, "stage")}
    with monkeypatch.context() as down:
        down.setattr(audit, "append_many", _failing_append)
        with pytest.raises(StorageUnavailable):
            refuse(payload)
    assert refuse(payload) == {"seen": -1}
    assert [r.record_id for r in audit.read(storage_settings, case_id)] == [f"{case_id}:001:stage"]


def test_notify_sends_a_request_to_decide_only_with_its_record_on_the_trail(storage_settings, monkeypatch):
    """``notify`` appends beside the send, but a request to decide waits for its records: when the append
    fails no message is sent. A case ending's message is sent beside its (failing) append and sent again
    by the retry (same notification id: consumers deduplicate)."""
    import dataclasses

    import activities.effects as effects
    from shared.storage import StorageUnavailable, ensure_queue

    queue_name = f"notes-{storage_settings.ledger_table}"
    settings = dataclasses.replace(storage_settings, notifications_queue=queue_name)
    monkeypatch.setattr(step_module.AppSettings, "current", classmethod(lambda cls: settings))
    notify = effects.notify._function.get_user_function()
    queue = ensure_queue(settings, settings.notifications_queue)
    case_id = "case-notify-beside"
    request = {"case_instance_id": case_id, "event_id": "e-1", "kind": "approval_requested",
               "request": {"case_instance_id": case_id, "tier": 0},
               "audit": _records(case_id, "approval_requested")}
    ending = {"case_instance_id": case_id, "event_id": "e-1", "kind": "case_completed",
              "outcome": {"status": "completed"}, "audit": _records(case_id, "x", "completed")[1:]}
    with monkeypatch.context() as down:
        down.setattr(audit, "append_many", _failing_append)
        with pytest.raises(StorageUnavailable):
            notify(request)
        assert queue.peek_messages(max_messages=32) == []
        with pytest.raises(StorageUnavailable):
            notify(ending)
    assert len(queue.peek_messages(max_messages=32)) == 1  # the ending went out beside the append

    assert notify(request)["notification_id"] == f"{case_id}:approval_requested:0"
    assert notify(ending)["notification_id"] == f"{case_id}:case_completed"
    assert len(queue.peek_messages(max_messages=32)) == 3
    assert [r.kind for r in audit.read(storage_settings, case_id)] == ["approval_requested", "completed"]
