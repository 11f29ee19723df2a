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
``{"value", "judgment"}``) still validate. Shapes of the effect steps are in ``shared/contracts/effects.py``;
the base models and the riding audit record in ``shared/contracts/step_model.py`` (re-exported here).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    model_serializer,
)

from shared.contracts.case import (
    Assessment,
    Budgets,
    Classification,
    MergeResult,
    PolicyDecision,
    RetryPolicy,
)
from shared.contracts.event import BusinessEvent
from shared.contracts.step_model import AuditRecordIn, IsoDatetime, StepInput, StepModel
from shared.judgment_budget import (
    JudgmentRecord,
    JudgmentSlot,
    JudgmentUsage,
    compact_record,
    unpack_judged,
)


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
