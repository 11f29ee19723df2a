"""The typed activity contracts (shared/contracts/steps.py, effects.py) against the JSON real runs recorded.

Every activity input and output in the golden histories (captured from real devhost runs, some before the
contracts existed) validates with its model and dumps back to the very same JSON, so instances in flight
keep their wire format; a bad input is refused at the activity's entry with an error naming the activity and
the field; and ``@case_step`` keeps the Functions signature the worker indexes.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

import activities.case_steps as steps
import activities.decisions as decisions
import activities.effects as effects
import activities.maintenance_steps as maintenance
from devhost.durable import history as h
from orchestrations import names
from shared.case_errors import InputError, StepInputError
from shared.contracts.effects import (
    ApplyInput,
    ApplyResult,
    AuditAppended,
    Notified,
    NotifyInput,
    RecordAuditInput,
    Verdict,
    VerifyDecisionInput,
)
from shared.contracts.steps import (
    AssessCaseInput,
    Assessed,
    AssessedCase,
    AssessInput,
    Classified,
    ClassifyInput,
    Decided,
    DecideInput,
    LoadPolicyInput,
    StepModel,
)
from shared.policy_ref import from_load_result
from tests.golden.golden_replay import load_goldens
from tests.unit.orchestrations.orch_fixtures import Approvals, Effects, case_sim, decision, event

INPUTS: dict[str, type[StepModel]] = {
    names.LOAD_POLICY: LoadPolicyInput,
    names.CLASSIFY_CASE: ClassifyInput,
    names.ASSESS_POLICY: AssessInput,
    names.ASSESS_RISK: AssessInput,
    names.ASSESS_REQUESTER_HISTORY: AssessInput,
    names.ASSESS_CASE: AssessCaseInput,
    names.DECIDE_POLICY: DecideInput,
    names.RECORD_AUDIT: RecordAuditInput,
    names.NOTIFY: NotifyInput,
    names.APPLY_ACTION: ApplyInput,
    names.VERIFY_DECISION: VerifyDecisionInput,
}
OUTPUTS: dict[str, type[StepModel]] = {
    names.ASSESS_CASE: AssessedCase,
    names.RECORD_AUDIT: AuditAppended,
    names.NOTIFY: Notified,
    names.APPLY_ACTION: ApplyResult,
    names.VERIFY_DECISION: Verdict,
}
JUDGED: dict[str, type[Classified] | type[Assessed]] = {
    names.CLASSIFY_CASE: Classified,
    names.ASSESS_POLICY: Assessed,
    names.ASSESS_RISK: Assessed,
    names.ASSESS_REQUESTER_HISTORY: Assessed,
}


def recorded_steps() -> list[tuple[str, str, Any, Any]]:
    """``(golden, activity, input JSON, output JSON or None)`` for every activity the goldens scheduled."""
    found = []
    for file_name, document in load_goldens():
        scheduled: dict[int, tuple[str, Any]] = {}
        outputs: dict[int, Any] = {}
        for e in document["history"]:
            if e["EventType"] == h.TASK_SCHEDULED:
                scheduled[e["EventId"]] = (e["Name"], json.loads(e.get("Input") or "null"))
            elif e["EventType"] == h.TASK_COMPLETED:
                outputs[e["TaskScheduledId"]] = json.loads(e.get("Result") or "null")
        for task_id, (name, raw) in scheduled.items():
            found.append((file_name, name, raw, outputs.get(task_id)))
    return found


RECORDED = recorded_steps()


def test_the_goldens_cover_every_case_activity():
    assert set(INPUTS) <= {name for _, name, _, _ in RECORDED}


def _id(value: Any) -> str:
    return value if isinstance(value, str) else ""


@pytest.mark.parametrize(("golden", "name", "raw", "output"), RECORDED, ids=_id)
def test_recorded_inputs_and_outputs_round_trip_through_their_models(golden, name, raw, output):
    """Each recorded input validates and dumps the recorded top-level keys in their order (nested models
    recorded by older code gain the fields added since, as they did before the contracts); each recorded
    output reads with its model (judgments and the policy also in their older shapes)."""
    model = INPUTS[name].from_input(raw, name)
    assert list(model.to_json()) == list(raw), (golden, name)
    assert type(model).model_validate(model.to_json()) == model
    if output is None:
        return
    if name in OUTPUTS:
        assert json.dumps(OUTPUTS[name].model_validate(output).to_json()) == json.dumps(output)
    elif name in JUDGED:
        judged = JUDGED[name].read(output, name)
        value = output["value"] if {"value", "judgment"} <= set(output) else output
        assert judged.value.model_dump(mode="json") == value
        if "policy" in output:  # classify_case loading the policy (orchestration version 3.0)
            assert judged.to_json()["policy"] == output["policy"]
    elif name == names.DECIDE_POLICY:  # recorded before RetryPolicy's infra_* defaults: validates, dumps more
        assert Decided.model_validate(output).merge.model_dump(mode="json") == output["merge"]
    elif name == names.LOAD_POLICY:
        assert from_load_result(output).version


def test_what_todays_orchestrator_schedules_round_trips_exactly():
    """Every input today's case_workflow schedules (an approved case: judgment, notify, audit, approval
    tier, verify, apply) validates and dumps back to the same JSON text, so the models fix the wire."""
    effects_ = Effects()
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate)]])
    sim = case_sim(event("account.change"), effects_, approvals).run()
    assert sim.output["status"] == "completed"
    histories = [sim.history, *[tier.history for tier in approvals.tiers]]
    scheduled = [e for history in histories for e in history if e["EventType"] == h.TASK_SCHEDULED]
    # record_audit, load_policy, assess_*: scheduled by instances started before orchestration version
    # 2.0 / 3.0 / 7.0 only
    older = {"record_audit", "load_policy", *names.SPECIALIST_ACTIVITIES.values()}
    assert {e["Name"] for e in scheduled} == set(INPUTS) - older
    assert any("audit" in json.loads(e["Input"]) for e in scheduled)  # the records ride with a step
    for e in scheduled:
        model = INPUTS[e["Name"]].from_input(json.loads(e["Input"]), e["Name"])
        assert json.dumps(model.to_json()) == e["Input"], e["Name"]


@pytest.mark.parametrize(
    ("builder", "raw", "field"),
    [
        (steps.load_policy, {"event_id": "e"}, "case_instance_id"),
        (steps.classify_case, {"case_instance_id": "c", "policy": {}}, "event"),
        (steps.assess_risk, {"case_instance_id": "c"}, "event"),
        (steps.assess_case, {"case_instance_id": "c", "specialists": [{"specialist": "mood"}]},
         "specialists.0.specialist"),
        (steps.decide_policy, {"case_instance_id": "c", "assesments": []}, "assesments"),
        (effects.record_audit, {"case_instance_id": "c", "event_id": "e", "records": [{}]}, "records.0.kind"),
        (effects.notify, {"kind": "case_lost"}, "kind"),
        (effects.apply_action, {"case_instance_id": "c", "mode": "auto"}, "event"),
        (decisions.verify_decision, {"tier": "first"}, "tier"),
    ],
)
def test_a_bad_input_is_refused_at_entry_naming_activity_and_field(builder, raw, field):
    """Validation happens before the step does anything; the error is an InputError (and a ValueError)."""
    fn = builder._function.get_user_function()
    with pytest.raises(StepInputError) as caught:
        fn(raw)
    assert isinstance(caught.value, InputError) and isinstance(caught.value, ValueError)
    assert caught.value.activity == builder._function.get_function_name()
    assert any(p.startswith(field + ":") for p in caught.value.problems), caught.value.problems
    with pytest.raises(StepInputError, match="expected a JSON object, got str"):
        fn("not an object")


def test_decorated_activities_keep_the_signature_the_worker_indexes():
    """``payload`` is the only parameter of a case step; the client-bound ones add ``client`` and stay
    async (the SDK's middleware wraps them)."""
    for builder in (steps.load_policy, steps.classify_case, effects.apply_action, decisions.verify_decision):
        fn = builder._function.get_user_function()
        assert list(inspect.signature(fn).parameters) == ["payload"]
        assert not inspect.iscoroutinefunction(fn)
    for builder in (maintenance.find_maintenance_work, maintenance.purge_case_history):
        fn = builder._function.get_user_function()
        assert list(inspect.signature(fn).parameters) == ["payload", "client"]
        assert inspect.iscoroutinefunction(fn)


def test_classify_without_a_policy_loads_it_and_returns_its_reference():
    """Orchestration version 3.0: ``classify_case`` given no policy loads the current one, as
    ``load_policy`` does, and its output carries the reference; older outputs read without it."""
    fn = steps.classify_case._function.get_user_function()
    out = fn({"case_instance_id": "c", "event": event("order.cancel")})
    loaded = steps.load_policy._function.get_user_function()({"case_instance_id": "c"})
    classified = Classified.read(out, "classify")
    assert classified.policy is not None and classified.policy.to_json() == loaded
    assert classified.value.action == "order.cancel"
    assert Classified.read({k: v for k, v in out.items() if k != "policy"}, "classify").policy is None
    referenced = fn({"case_instance_id": "c", "event": event("order.cancel"),
                     "policy_ref": {"version": loaded["version"], "digest": loaded["digest"]}})
    assert "policy" not in referenced and referenced["value"] == out["value"]


def test_an_audit_record_rides_without_what_its_step_input_holds_and_is_filled_back():
    """``AuditRecordIn.brief_for`` leaves out trailing values the carrying input holds (top level or one
    level down), ``filled`` restores the same record; small or differing values stay in the record."""
    from datetime import UTC, datetime

    from shared.contracts.steps import AuditRecordIn

    pack = {"action_summary": "x" * 80, "evidence": {"a": 1}}
    outcome = {"status": "completed", "reason": "y" * 80}
    record = AuditRecordIn(record_id="c:004:approval_requested", kind="approval_requested",
                           data={"tier": 0, "evidence_hash": "sha256:" + "0" * 64, "pack": pack},
                           at=datetime(2026, 12, 7, tzinfo=UTC))
    notice = {"kind": "approval_requested", "request": {"tier": 0, "pack": pack}, "outcome": outcome}
    brief = record.brief_for(notice)
    assert brief.fill_from == ["request.pack"] and "pack" not in brief.data
    assert json.loads(json.dumps(brief.to_json()))["fill_from"] == ["request.pack"]
    assert brief.filled(notice) == record and list(brief.filled(notice).data) == list(record.data)
    assert record.brief_for({"request": {"pack": {**pack, "other": 1}}}) is record  # differs: stays whole
    assert "fill_from" not in record.to_json()
    at = datetime(2026, 12, 7, tzinfo=UTC)
    ending = {"stage": "completed", "outcome": outcome}
    closing = AuditRecordIn(record_id="c:005:stage", kind="stage", data=ending, at=at)
    assert closing.brief_for(notice).fill_from == ["outcome"]
    with pytest.raises(ValueError):
        closing.brief_for(notice).filled({"kind": "case_failed"})


def test_a_lean_record_rides_by_reference_and_relative_to_its_case():
    """Orchestration version 5.0 (``lean``): the record id rides relative to the input's case, a ``data``
    the input holds whole (the approver's decision in apply's ``approval.accepted``) is named by
    ``data_from``; ``filled`` restores the very record, and says so when the input lacks what it names."""
    from datetime import UTC, datetime

    from shared.contracts.steps import AuditRecordIn

    at = datetime(2026, 12, 7, tzinfo=UTC)
    approver = {"decision": "approve", "approver": "bob", "roles": ["approver"], "nonce": "n" * 32,
                "seal": "hmac-sha256:" + "0" * 64}
    step_input = {"case_instance_id": "case-1", "approval": {"accepted": [{"other": 1}, approver]}}
    record = AuditRecordIn(record_id="case-1:005:decision", kind="decision", data=approver, at=at)
    brief = record.brief_for(step_input, lean=True)
    assert brief.to_json() == {"record_id": ":005:decision", "kind": "decision", "data": {},
                               "at": "2026-12-07T00:00:00+00:00", "data_from": "approval.accepted.1"}
    assert brief.filled(step_input) == record
    assert record.brief_for(step_input) is record  # not lean (before 5.0): whole, as older activities read
    small = AuditRecordIn(record_id="case-1:006:stage", kind="stage", data={"stage": "ready"}, at=at)
    assert small.brief_for(step_input, lean=True).to_json()["record_id"] == ":006:stage"
    assert small.brief_for({"case_instance_id": "case-2"}, lean=True) is small  # another case: whole id
    notice = {"kind": "approval_requested", "request": {"case_instance_id": "case-1"}}
    assert small.brief_for(notice, lean=True).filled(notice) == small  # a notice's case: its request's
    with pytest.raises(ValueError, match=r"approval\.accepted\.1"):
        brief.filled({"case_instance_id": "case-1", "approval": {"accepted": []}})
    with pytest.raises(ValueError, match="names no case"):
        brief.filled({"approval": step_input["approval"]})


def test_apply_takes_the_decision_or_its_terms():
    """``ApplyInput`` holds the whole decision (inputs of versions before 5.0) or its ``terms`` (5.0), one of
    the two; the step acts under the same terms either way."""
    from shared.contracts.effects import ApplyTerms

    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate)]])
    sim = case_sim(event("account.change"), Effects(), approvals).run()
    (raw,) = [p for name, p in sim.calls if name == names.APPLY_ACTION]
    lean = ApplyInput.from_input(raw, "apply_action")
    recorded = next(r for _, n, r, _ in RECORDED if n == names.APPLY_ACTION and "decision" in r)
    whole = ApplyInput.from_input(recorded, "apply_action")
    assert lean.terms is not None and lean.decision is None and lean.acting == lean.terms
    assert whole.decision is not None and whole.acting == ApplyTerms.of(whole.decision)
    assert whole.acting.approval_roles == whole.decision.approval.roles
    neither = {k: v for k, v in raw.items() if k != "terms"}
    for both_or_none in ({**raw, "decision": recorded["decision"]}, neither):
        with pytest.raises(StepInputError, match="exactly one"):
            ApplyInput.from_input(both_or_none, "apply_action")
