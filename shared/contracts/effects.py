"""Typed inputs and outputs of the activities with effects: audit, notify, apply, verify a decision, and the
maintenance steps.

Same rules as ``shared/contracts/steps.py`` (JSON only across the durable boundary, set fields only, the
activity validates its input at entry): :class:`StepModel` and :data:`IsoDatetime` come from there. Times the
orchestrator passes down travel as ``isoformat()`` text (its deterministic clock,
``context.current_utc_datetime``).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from shared.contracts.case import ApprovalOutcome, ApprovalRuleName, PolicyDecision, RiskClass
from shared.contracts.event import BusinessEvent
from shared.contracts.steps import AuditRecordIn, IsoDatetime, StepInput, StepModel

#: What a notification is about (``notify``'s ``kind``).
NoticeKind = Literal[
    "approval_requested",
    "approval_escalated",
    "approval_reminder",
    "case_completed",
    "case_rejected",
    "case_expired",
    "case_failed",
]
#: How ``apply_action`` is asked to act: on its own (``auto``), after approval, or to report a fallback.
ApplyMode = Literal["auto", "approved", "rejected", "expired"]


# -- record_audit -----------------------------------------------------------------------------------------
class RecordAuditInput(StepInput):
    """Input of ``record_audit``: the case, its event id and the ``records`` to append as one batch (the
    case's flushes of orchestrator version 1; version 2 on passes the records in the flushing step's
    own input instead, :attr:`StepInput.audit`)."""

    case_instance_id: str
    event_id: str
    records: list[AuditRecordIn]


class AuditAppended(StepModel):
    """Output of ``record_audit``: how many records were in the batch (``appended``) and the trail's
    ``last_hash`` after it (None for an empty batch)."""

    appended: int
    last_hash: str | None


# -- notify -----------------------------------------------------------------------------------------------
class NotifyInput(StepInput):
    """Input of ``notify``, one notification (sent as a JSON queue message: these keys plus
    ``notification_id``). Requests to decide carry ``request`` (the ApprovalRequest JSON, forwarded as
    is: a reminder takes it from the case's custom status); case endings carry ``case_instance_id``,
    ``requester``, ``event_type`` and ``outcome`` (the Outcome JSON); ``once`` sends at most once per
    notification id (reminders). ``event_id`` is absent from notices of older orchestrators."""

    kind: NoticeKind
    case_instance_id: str | None = None
    requester: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    outcome: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    once: bool | None = None

    @property
    def case_id(self) -> str:
        """The case the notice is about (``case_instance_id``, else the request's), ``"None"`` if neither."""
        return str(self.case_instance_id or (self.request or {}).get("case_instance_id"))

    @property
    def notification_id(self) -> str:
        """Deterministic id of the notification: ``{case}:{kind}[:{tier}]`` (consumers deduplicate on it)."""
        request = self.request or {}
        case_id = self.case_instance_id or request.get("case_instance_id") or "?"
        tier = request.get("tier")
        return f"{case_id}:{self.kind}" + (f":{tier}" if tier is not None else "")


class Notified(StepModel):
    """Output of ``notify``: the ``queue`` it went to and its ``notification_id``."""

    queue: str
    notification_id: str


# -- apply_action -----------------------------------------------------------------------------------------
class ApplyTerms(StepModel):
    """What ``apply_action`` reads of the policy decision (``shared.apply_plan.plan_action``): ``action``,
    ``tool`` with its ``adapter`` and ``tool_config``, ``report_outcome``, ``risk_class``, and of the approval
    its ``approval_rule``, ``approval_required`` distinct approvers and the ``approval_roles`` allowed to
    approve (every tier's, :attr:`ApprovalPolicy.roles`). The tiers' timeouts, retry, budgets and notes are
    the orchestrator's business: orchestration version 5.0 sends these terms instead of the whole decision
    (``ApplyInput.terms``)."""

    action: str
    tool: str
    adapter: str
    tool_config: dict[str, Any] = Field(default_factory=dict)
    report_outcome: bool = False
    risk_class: RiskClass
    approval_rule: ApprovalRuleName
    approval_required: int = 0
    approval_roles: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, decision: PolicyDecision) -> ApplyTerms:
        """The terms of ``decision``."""
        return cls(
            action=decision.action,
            tool=decision.tool,
            adapter=decision.adapter,
            tool_config=dict(decision.tool_config),
            report_outcome=decision.report_outcome,
            risk_class=decision.risk_class,
            approval_rule=decision.approval.rule,
            approval_required=decision.approval.required,
            approval_roles=decision.approval.roles,
        )


class ApplyInput(StepInput):
    """Input of ``apply_action``: the case, ``event``, the policy ``decision`` (orchestration versions before
    5.0) or its :class:`ApplyTerms` (``terms``, 5.0 on: one of the two), the ``mode``, the tier's
    ``approval`` outcome (None when not required) and ``at``, the orchestration's time of this attempt (the
    ledger's claim time and busy grace run on it; absent from older inputs: the activity's clock). From 5.0
    the ``event`` comes without its ``data`` (the step acts on the event's attributes)."""

    case_instance_id: str
    event: BusinessEvent
    decision: PolicyDecision | None = None
    terms: ApplyTerms | None = None
    mode: ApplyMode
    approval: ApprovalOutcome | None = None
    at: IsoDatetime | None = None

    @model_validator(mode="after")
    def _decision_or_terms(self) -> Self:
        if (self.decision is None) == (self.terms is None):
            raise ValueError("give the decision or its terms (exactly one)")
        return self

    @property
    def acting(self) -> ApplyTerms:
        """The terms the step acts under: ``terms``, or those of ``decision``."""
        if self.terms is not None:
            return self.terms
        assert self.decision is not None  # _decision_or_terms
        return ApplyTerms.of(self.decision)


class ApplyResult(StepModel):
    """Output of ``apply_action``: the ledger ``key``, ``status`` ``applied`` | ``refused``, ``replayed``
    (recorded earlier, not acted again), ``attempts`` (runs that claimed the key), the adapter ``result``;
    a refusal adds ``permanent``, ``reason`` and ``error`` (the same text) and has no result."""

    key: str | None
    status: str
    permanent: bool | None = None
    reason: str | None = None
    error: str | None = None
    replayed: bool
    attempts: int
    result: dict[str, Any] | None

    @property
    def refused(self) -> bool:
        """True when the side effect was refused (a business outcome, never retried)."""
        return self.status == "refused"


# -- verify_decision --------------------------------------------------------------------------------------
class VerifyDecisionInput(StepInput):
    """Input of ``verify_decision``: the raised ``decision`` exactly as it arrived (a JSON object or its
    text; anything else is refused by the verdict, not by validation) and what it must be bound to."""

    decision: Any = None
    case_instance_id: str | None = None
    approval_instance_id: str | None = None
    tier: int | None = None


class Verdict(StepModel):
    """Output of ``verify_decision``: ``ok`` and, when not, the ``reason``."""

    ok: bool
    reason: str | None


# -- maintenance ------------------------------------------------------------------------------------------
class FindWorkInput(StepInput):
    """Input of ``find_maintenance_work``: ``now``, the maintenance orchestration's time (UTC)."""

    now: IsoDatetime


class Reminder(StepModel):
    """An approval past its SLA: the case and its pending ``request`` (ApprovalRequest JSON from the
    custom status)."""

    case_instance_id: str
    request: dict[str, Any]

    @property
    def event_id(self) -> str | None:
        """The case's event id, from the request's evidence pack (None when absent)."""
        return (self.request.get("pack") or {}).get("event_id")


class MaintenanceWork(StepModel):
    """Output of ``find_maintenance_work``: ``reminders`` to send and instance ids to ``purge``."""

    reminders: list[Reminder] = Field(default_factory=list)
    purge: list[str] = Field(default_factory=list)


class PurgeInput(StepInput):
    """Input of ``purge_case_history``: the ``instance_ids`` whose durable history is purged."""

    instance_ids: list[str]


class Purged(StepModel):
    """Output of ``purge_case_history``: how many instances were ``purged``."""

    purged: int


__all__ = [
    "ApplyInput",
    "ApplyMode",
    "ApplyResult",
    "ApplyTerms",
    "AuditAppended",
    "AuditRecordIn",
    "FindWorkInput",
    "MaintenanceWork",
    "NoticeKind",
    "Notified",
    "NotifyInput",
    "PurgeInput",
    "Purged",
    "RecordAuditInput",
    "Reminder",
    "Verdict",
    "VerifyDecisionInput",
]
