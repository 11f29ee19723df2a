"""Typed inputs and outputs of the judging activities: load the policy, classify, assess, decide.

Every activity input and output crosses the durable boundary as JSON (the task hub stores it in the
history), so each is a pydantic model here and only its JSON travels: the orchestrator builds the input
model and schedules ``model.to_json()``; the activity validates the JSON with the model at entry
(:meth:`StepModel.from_input`: a bad input raises :class:`shared.case_errors.StepInputError` naming the
activity and the fields) and returns its output model's ``to_json()``; the orchestrator reads the output
with the model (``model_validate``, or ``read`` where older histories recorded another shape).

Wire compatibility: :meth:`StepModel.to_json` dumps only the fields that were *set* (given to the
constructor or present in the JSON read), in declaration order, so the JSON is key for key what the
activities and orchestrators exchanged before these models existed, and inputs scheduled by an older
orchestrator (no ``event_id``, a whole ``policy`` instead of a ``policy_ref``, a judgment wrapped in
``{"value", "judgment"}``) still validate. Shapes of the effect steps are in ``shared/contracts/effects.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    model_serializer,
)

from shared.case_errors import StepInputError
from shared.contracts.case import (
    Assessment,
    Budgets,
    Classification,
    MergeResult,
    PolicyDecision,
    RetryPolicy,
)
from shared.contracts.event import BusinessEvent
from shared.judgment_budget import (
    JudgmentRecord,
    JudgmentSlot,
    JudgmentUsage,
    compact_record,
    unpack_judged,
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A UTC datetime that travels as ``datetime.isoformat()`` text (``2026-01-05T08:00:00+00:00``), the form
#: the orchestrators always wrote into activity inputs (pydantic's own form would end in ``Z``).
IsoDatetime = Annotated[
    datetime,
    BeforeValidator(lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v),
    AfterValidator(_utc),
    PlainSerializer(lambda v: _utc(v).isoformat(), return_type=str),
]


class StepModel(BaseModel):
    """Base of every activity input and output: frozen, unknown keys refused, JSON in and out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The JSON value that crosses the durable boundary: the set fields only, in declaration order
        (module docstring), nested models dumped whole."""
        return self.model_dump(mode="json", include=set(self.model_fields_set))

    @classmethod
    def from_input(cls, raw: Any, activity: str) -> Self:
        """Validate an activity's input JSON. Raises :class:`StepInputError` (a ``ValueError``) naming
        ``activity``, the model and each offending field; never returns a partial model."""
        if not isinstance(raw, dict):
            problem = f"expected a JSON object, got {type(raw).__name__}"
            raise StepInputError(activity, cls.__name__, [problem])
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in exc.errors()[:10]
            ]
            raise StepInputError(activity, cls.__name__, problems) from None


class AuditRecordIn(StepModel):
    """One audit record to append: its deterministic ``record_id`` (``{case}:{seq:03d}:{kind}``), ``kind``,
    JSON ``data`` and the orchestrator's time ``at`` (UTC). A record riding in a step's input may be brief
    (:meth:`brief_for`); :meth:`filled` makes it whole again before the append."""

    record_id: str
    kind: str
    data: dict[str, Any]
    at: IsoDatetime
    #: Paths (``key`` or ``key.sub``) in the carrying step's input whose values complete ``data`` before the
    #: append, each under its last segment, after the keys ``data`` holds (a record riding in a step's input
    #: that holds the same value, e.g. the close notice's ``outcome``: not copied twice; :meth:`brief_for`).
    fill_from: list[str] | None = None
    #: A path (``key.sub.0``: list items by index) in the carrying step's input whose value is the
    #: record's whole ``data`` (before ``fill_from``): the approver's decision riding in
    #: ``apply_action``'s input is its ``approval.accepted.0`` (orchestration version 5.0).
    data_from: str | None = None

    @model_serializer(mode="wrap")
    def _without_unset_fill(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in ("fill_from", "data_from"):
            if data.get(key) is None:
                data.pop(key, None)  # the record's JSON as before the field existed
        return data

    def brief_for(self, step_input: dict[str, Any], *, lean: bool = False) -> AuditRecordIn:
        """This record as it rides in ``step_input`` (the carrying step's input JSON): trailing ``data``
        values larger than 64 bytes of JSON that the input holds too, at the same key or one level down
        (``request.pack``), are left out and named in ``fill_from``; :meth:`filled` puts them back. The
        orchestrator keeps the whole record, so a record that ends up riding with another step (a retry, a
        budget stop) is never incomplete. ``lean`` (orchestration version 5.0; activities of 4.0 cannot read
        it): also a ``record_id`` relative to the input's case (``:005:decision``), and a ``data`` the input
        holds whole (e.g. ``approval.accepted.0``) left out and named in ``data_from``."""
        whole = _find(step_input, self.data) if lean and len(json.dumps(self.data)) > 64 else None
        keys: list[str] = [] if whole is not None else list(self.data)
        fill: list[str] = []
        while keys:
            key, value = keys[-1], self.data[keys[-1]]
            if len(json.dumps(value)) <= 64:
                break
            paths = [key, *(f"{k}.{key}" for k, v in step_input.items() if isinstance(v, dict))]
            path = next((p for p in paths if _at(step_input, p) == value), None)
            if path is None:
                break
            fill.insert(0, path)
            keys.pop()
        case_id = _case_of(step_input) if lean else None
        record_id = self.record_id
        if case_id and record_id.startswith(case_id + ":"):
            record_id = record_id[len(case_id):]
        if not fill and whole is None and record_id == self.record_id:
            return self
        brief: dict[str, Any] = {"record_id": record_id, "kind": self.kind, "at": self.at,
                                 "data": {k: self.data[k] for k in keys}}
        if fill:
            brief["fill_from"] = fill
        if whole is not None:
            brief["data_from"] = whole
        return AuditRecordIn.model_validate(brief)

    def filled(self, step_input: dict[str, Any]) -> AuditRecordIn:
        """This record with ``data`` completed from ``step_input`` (the carrying step's input JSON) for
        ``data_from`` and the paths in ``fill_from``, and a relative ``record_id`` (``:005:decision``)
        prefixed with the input's case id. Raises ``ValueError`` when one of them is missing there."""
        if not self.fill_from and self.data_from is None and not self.record_id.startswith(":"):
            return self
        record_id = self.record_id
        if record_id.startswith(":"):
            case_id = _case_of(step_input)
            if not case_id:
                raise ValueError(f"audit record {record_id}: the step input names no case")
            record_id = case_id + record_id
        data = self.data
        if self.data_from is not None:
            base = _at(step_input, self.data_from)
            if not isinstance(base, dict):
                raise ValueError(f"audit record {record_id}: the step input lacks {self.data_from}")
            data = {**base, **data}
        values = {p: _at(step_input, p) for p in self.fill_from or []}
        missing = [p for p, v in values.items() if v is None]
        if missing:
            raise ValueError(f"audit record {record_id}: the step input lacks {missing}")
        data = {**data, **{p.rsplit(".", 1)[-1]: v for p, v in values.items()}}
        return AuditRecordIn(record_id=record_id, kind=self.kind, data=data, at=self.at)


def _at(document: dict[str, Any], path: str) -> Any:
    """The value at ``path`` (``key``, ``key.sub``; a digit segment indexes a list) of ``document``, None
    when absent."""
    value: Any = document
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def _find(document: dict[str, Any], wanted: Any) -> str | None:
    """The first path (``key``, ``key.sub``, ``key.sub.N``) of ``document`` whose value equals ``wanted``."""
    for key, value in document.items():
        if value == wanted:
            return key
        for sub, inner in value.items() if isinstance(value, dict) else ():
            if inner == wanted:
                return f"{key}.{sub}"
            for index, item in enumerate(inner) if isinstance(inner, list) else ():
                if item == wanted:
                    return f"{key}.{sub}.{index}"
    return None


def _case_of(step_input: dict[str, Any]) -> str | None:
    """The case a step input is about: its ``case_instance_id``, or its ``request``'s (a notice)."""
    request = step_input.get("request")
    case_id = step_input.get("case_instance_id") or (request.get("case_instance_id") if isinstance(
        request, dict) else None)
    return case_id if isinstance(case_id, str) and case_id else None


class StepInput(StepModel):
    """Base of activity inputs: ``trace_context`` is the W3C context the orchestrator adds to every input
    (``shared.telemetry.with_trace_context``); the activity's span becomes its child. ``audit``: the case's
    audit records flushed with this step (orchestration version 2 on, ``orchestrations/versions.py``):
    ``@case_step`` appends them to the case's trail (idempotent per record id) before the step's body runs,
    beside it for ``apply_action`` and ``notify`` (``audit_beside``: apply's effect and a request to decide
    wait for the append) and after it for ``decide_policy`` (``activities/step.py``), instead of a
    ``record_audit`` activity beside the step."""

    trace_context: dict[str, str] | None = None
    audit: list[AuditRecordIn] | None = None


def _unwrap_judged(value: Any) -> Any:
    """A judgment activity's ``{"value", "judgment"}`` output given where the judgment itself is expected
    (inputs of older orchestrators and of tests) reads as its value."""
    return unpack_judged(value, "input")[0]


#: A :class:`Classification` that also accepts the classify output wrapping it.
ClassificationIn = Annotated[Classification, BeforeValidator(_unwrap_judged)]
#: An :class:`Assessment` that also accepts the assess output wrapping it.
AssessmentIn = Annotated[Assessment, BeforeValidator(_unwrap_judged)]


class PolicyRef(StepModel):
    """A policy by reference: its ``version`` and ``digest`` (``sha256:<hex>``; ``shared/policy_ref.py``)."""

    version: str
    digest: str


class PolicyDefaults(StepModel):
    """The policy's default ``retry`` and ``budgets``: what applies before the policy decision."""

    retry: RetryPolicy
    budgets: Budgets


#: The case's :class:`JudgmentUsage` so far as a judgment step's input carries it: without its zero fields
#: (``{"calls": 2}``), read in either form.
CompactUsage = Annotated[
    JudgmentUsage,
    PlainSerializer(lambda u: u.model_dump(mode="json", exclude_defaults=True), return_type=dict),
]


# -- load_policy ------------------------------------------------------------------------------------------
class LoadPolicyInput(StepInput):
    """Input of ``load_policy``: ``case_instance_id`` and ``event_id`` only label the log line and span
    (``event_id`` is absent from inputs of older orchestrators)."""

    case_instance_id: str
    event_id: str | None = None


class PolicyLoaded(StepModel):
    """Output of ``load_policy``: the policy by reference (``version``, ``digest``) and its ``defaults``.
    Histories recorded before references hold the whole document instead
    (``shared.policy_ref.from_load_result`` reads both)."""

    version: str
    digest: str
    defaults: PolicyDefaults

    @property
    def ref(self) -> PolicyRef:
        """The reference the judgment steps receive."""
        return PolicyRef(version=self.version, digest=self.digest)


# -- classify_case, assess_* ------------------------------------------------------------------------------
class ClassifyInput(StepInput):
    """Input of ``classify_case``: the case, its ``event``, the policy (``policy_ref``, or a whole ``policy``
    document from an older orchestrator; neither from orchestration version 3.0 on: the step loads the
    policy itself and returns its reference), the case's ``judgment_usage`` so far and the step's
    ``judgment_slot`` (either absent: no usage, slot 0 of 1; today's orchestrator leaves them out then, and
    the usage without its zero fields, :data:`CompactUsage`)."""

    case_instance_id: str
    event: BusinessEvent
    policy_ref: PolicyRef | None = None
    policy: dict[str, Any] | None = None
    judgment_usage: CompactUsage | None = None
    judgment_slot: JudgmentSlot | None = None


class AssessInput(StepInput):
    """Input of ``assess_policy`` / ``assess_risk`` / ``assess_requester_history``: as
    :class:`ClassifyInput` plus the ``classification`` being assessed."""

    case_instance_id: str
    event: BusinessEvent
    classification: ClassificationIn
    policy_ref: PolicyRef | None = None
    policy: dict[str, Any] | None = None
    judgment_usage: CompactUsage | None = None
    judgment_slot: JudgmentSlot | None = None


#: The specialists a case asks, by name (``shared.judgment.SPECIALISTS``), in the orchestrator's order.
SpecialistName = Literal["policy", "risk", "requester_history"]


class SpecialistJudgment(StepModel):
    """One specialist of ``assess_case`` (version 7.0): its name and the judgment keys of its slot as its own
    ``assess_*`` input had them (``JudgmentTally.step_input``; absent keys left out of the JSON)."""

    specialist: SpecialistName
    judgment_usage: CompactUsage | None = None
    judgment_slot: JudgmentSlot | None = None

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}  # absent: the activity's default


class AssessCaseInput(StepInput):
    """Input of ``assess_case`` (orchestration version 7.0): the case, ``event``, ``classification`` and
    ``policy_ref`` once, then ``specialists`` in the orchestrator's order (:class:`SpecialistJudgment`)."""

    case_instance_id: str
    event: BusinessEvent
    classification: ClassificationIn
    policy_ref: PolicyRef
    specialists: list[SpecialistJudgment]

    def specialist_input(self, index: int) -> AssessInput:
        """The :class:`AssessInput` specialist ``index`` would have been given as its own activity."""
        slot = self.specialists[index]
        keys = ("judgment_usage", "judgment_slot")
        return AssessInput(
            case_instance_id=self.case_instance_id,
            event=self.event,
            classification=self.classification,
            policy_ref=self.policy_ref,
            **{k: getattr(slot, k) for k in keys if k in slot.model_fields_set},
        )


class _Judged(StepModel):
    """A judgment step's output: the typed judgment ``value`` and its ``judgment`` record (declared by
    each subclass, in that order: the order of the JSON keys)."""

    @classmethod
    def read(cls, raw: Any, step: str) -> Self:
        """The output as recorded in the history; an output recorded before judgment records existed (the
        bare judgment JSON) reads as a ``rules`` judgment of ``step`` without usage."""
        value, record = unpack_judged(raw, step)
        return cls.model_validate({"value": value, "judgment": record.model_dump(mode="json")})


#: A judgment step's :class:`JudgmentRecord`, written without its default fields (``compact_record``: the
#: record is in the history of every judgment step; a rules step's is ``{"step", "source"}``), read in
#: either form.
CompactRecord = Annotated[JudgmentRecord, PlainSerializer(compact_record, return_type=dict)]


class Classified(_Judged):
    """Output of ``classify_case``: ``{"value": Classification, "judgment": JudgmentRecord}``, plus
    ``policy`` (:class:`PolicyLoaded`: the reference and defaults of the policy the step loaded) when its
    input named no policy (orchestration version 3.0: ``load_policy`` folded into ``classify_case``)."""

    value: Classification
    judgment: CompactRecord
    policy: PolicyLoaded | None = None

    @classmethod
    def read(cls, raw: Any, step: str) -> Self:
        """As :meth:`_Judged.read`, keeping ``policy`` when the output carries it."""
        judged = super().read(raw, step)
        policy = raw.get("policy") if isinstance(raw, dict) else None
        if policy is None:
            return judged
        return cls.model_validate({**judged.to_json(), "policy": policy})


class Assessed(_Judged):
    """Output of an ``assess_*`` step: ``{"value": Assessment, "judgment": JudgmentRecord}``."""

    value: Assessment
    judgment: CompactRecord


class AssessedCase(StepModel):
    """Output of ``assess_case`` (orchestration version 7.0): ``assessed``, one :class:`Assessed` per
    specialist of the input, in its order (what the three ``assess_*`` steps returned each)."""

    assessed: list[Assessed]


# -- decide_policy ----------------------------------------------------------------------------------------
class DecideInput(StepInput):
    """Input of ``decide_policy``: the case, ``event``, ``classification``, the specialists'
    ``assessments`` (in the orchestrator's order) and the policy (as in :class:`ClassifyInput`).
    ``record`` (orchestration version 4.0): the case's ``classified`` stage record without what the step
    computes (its judgment ``records`` may be compact, ``shared.judgment_budget.compact_record``: the step
    writes them in full); the step adds ``classification``, ``merge`` and ``decision`` and appends it after
    the records riding in ``audit``, so the decision is not copied into a later step's input. ``ready``
    (orchestration version 8.0): the ``ready_to_apply`` stage record the case enters next when the decision
    needs no approval; the step appends it after ``record`` when the decision's approval rule is ``none``
    (and not otherwise), so ``apply_action`` of such a case has no record to append before its effect."""

    case_instance_id: str
    event: BusinessEvent
    classification: ClassificationIn
    assessments: list[AssessmentIn]
    policy_ref: PolicyRef | None = None
    policy: dict[str, Any] | None = None
    record: AuditRecordIn | None = None
    ready: AuditRecordIn | None = None


class Decided(StepModel):
    """Output of ``decide_policy``: the ``merge`` of the assessments and the policy ``decision`` (and
    ``recorded``, below)."""

    merge: MergeResult
    decision: PolicyDecision
    #: The id of the ``classified`` record the step appended (its input's ``record``; version 4.0); the
    #: ``merge`` then comes without its ``inputs`` (they are on that record).
    recorded: str | None = None
    #: The id of the ``ready_to_apply`` record the step appended (its input's ``ready``, version 8.0), or
    #: None when it appended none (no ``ready`` given, or the decision needs an approval).
    ready_recorded: str | None = None


__all__ = [
    "AssessCaseInput",
    "AssessInput",
    "Assessed",
    "AssessedCase",
    "AuditRecordIn",
    "Classified",
    "ClassifyInput",
    "DecideInput",
    "Decided",
    "IsoDatetime",
    "LoadPolicyInput",
    "PolicyDefaults",
    "PolicyLoaded",
    "PolicyRef",
    "SpecialistJudgment",
    "StepInput",
    "StepModel",
]
