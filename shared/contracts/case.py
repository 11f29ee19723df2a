"""Typed contracts of a case after ingress: judgment, policy decision, approvals, outcome, custom status.

Every model is JSON-only (``model_dump(mode="json")`` in, ``model_validate`` out) because each one crosses a
durable boundary: activity inputs and results, sub-orchestration input/output, external events and the
custom status are all stored as JSON text in the task hub. Shapes follow the design brief (seeds 001 §5.3
"action summary, target object, estimated impact, rollback hint"; seeds 002 "recommendation, confidence,
reasons, risks"; seeds 001 §7 run schema).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.contracts.event import BusinessEvent

RiskClass = Literal["read", "write", "privileged", "irreversible"]
#: Ordered from least to most scrutiny; judgment may raise a risk class, never lower it.
RISK_ORDER: tuple[str, ...] = ("read", "write", "privileged", "irreversible")
Recommendation = Literal["approve", "reject", "escalate"]
ApprovalRuleName = Literal["none", "single", "quorum"]
Stage = Literal[
    "received",
    "classified",
    "awaiting_approval",
    "ready_to_apply",
    "stalled",
    "completed",
    "rejected",
    "expired",
    "failed",
]
FinalStage = Literal["completed", "rejected", "expired", "failed"]
DecisionValue = Literal["approve", "reject"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A datetime normalized to timezone-aware UTC (naive input is taken as UTC).
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Classification(_Model):
    """What the judgment says an event means: ``category`` (domain, e.g. ``payments``), the proposed
    ``action`` (e.g. ``payment.release``), its estimated ``risk_class``, ``confidence`` in [0, 1] and a
    one-line ``rationale``. Produced by a :class:`shared.judgment.Judgment`; validated like any input."""

    category: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=128)
    risk_class: RiskClass
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = Field(max_length=1000)


class Assessment(_Model):
    """One specialist's structured opinion (seeds 002): ``recommendation`` approve | reject | escalate,
    ``confidence`` in [0, 1], ``reasons`` and ``risks`` as short sentences."""

    specialist: str = Field(min_length=1, max_length=64)
    recommendation: Recommendation
    confidence: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)


class MergeResult(_Model):
    """The deterministic merge of assessments with its provenance: ``inputs`` (sorted by specialist),
    the tie-break ``rule`` that decided, the ``threshold`` below which a human must look, and
    ``needs_human`` (recommendation is not approve, or confidence below the threshold)."""

    recommendation: Recommendation
    confidence: float = Field(ge=0.0, le=1.0)
    reasons: list[str]
    risks: list[str]
    rule: str
    threshold: float
    needs_human: bool
    inputs: list[Assessment]


class ApprovalTier(_Model):
    """One escalation tier: who may decide (``roles``, any of) and for how long (``timeout_s``, seconds)."""

    roles: list[str] = Field(min_length=1)
    timeout_s: int = Field(gt=0)


class ApprovalPolicy(_Model):
    """The approval a decision needs: ``rule`` none | single | quorum, ``required`` distinct approvers,
    ``tiers`` tried in order (timeout → next tier; after the last → expired), ``reminder_after_s``
    (approval SLA for maintenance reminders) and ``reason`` (why approval is required)."""

    rule: ApprovalRuleName
    required: int = Field(ge=0, default=0)
    tiers: list[ApprovalTier] = Field(default_factory=list)
    reminder_after_s: int = Field(gt=0, default=14400)
    reason: str = ""

    @property
    def roles(self) -> list[str]:
        """Every role named by any tier, in first-seen order."""
        seen: list[str] = []
        for tier in self.tiers:
            seen.extend(role for role in tier.roles if role not in seen)
        return seen


class RetryPolicy(_Model):
    """Activity retry (orchestrations/run_state.py ``RunState.step``), two budgets on the orchestration clock:

    - business budget: an unexpected failure is retried every ``first_retry_interval_s`` seconds, at most
      ``max_attempts`` attempts, then fails the instance;
    - infrastructure budget: a transient failure (storage, network, busy ledger, transient downstream) is
      retried with exponential backoff from ``first_retry_interval_s`` doubling up to
      ``infra_max_interval_s`` seconds, for ``infra_budget_s`` seconds since the first failure; after
      ``max_attempts`` attempts the case shows stage ``stalled`` until the step succeeds.
    """

    first_retry_interval_s: float = Field(gt=0, default=5.0)
    max_attempts: int = Field(ge=1, default=3)
    infra_budget_s: float = Field(gt=0, default=3600.0)
    infra_max_interval_s: float = Field(gt=0, default=300.0)


class Budgets(_Model):
    """Hard per-case limits enforced by the orchestrator: ``max_activities`` (activities and
    sub-orchestrations scheduled) and ``max_runtime_s`` (seconds since the case was received)."""

    max_activities: int = Field(ge=1, default=40)
    max_runtime_s: int = Field(ge=1, default=345600)


class PolicyDecision(_Model):
    """The policy's verdict for one case (pure function of the policy file, see ``shared/policy.py``):
    which ``rule_id`` matched, ``action`` and ``tool`` (with its ``adapter`` and ``tool_config``), the
    effective ``risk_class``, the ``approval`` needed, ``retry`` and ``budgets``; ``notes`` explain it."""

    policy_version: str
    rule_id: str
    action: str
    tool: str
    adapter: str
    tool_config: dict[str, Any] = Field(default_factory=dict)
    report_outcome: bool = False
    risk_class: RiskClass
    approval: ApprovalPolicy
    retry: RetryPolicy
    budgets: Budgets
    notes: list[str] = Field(default_factory=list)


class EvidencePack(_Model):
    """Exactly what a reviewer is shown; its canonical-JSON SHA-256 is the ``evidence_hash`` sealed into
    every decision (``shared.approvals.seal``)."""

    case_instance_id: str
    event_id: str
    event_type: str
    requester: str
    action_summary: str
    target: str
    estimated_impact: str
    rollback_hint: str
    risk_class: RiskClass
    policy_version: str
    evidence: dict[str, Any]


class ApprovalRequest(_Model):
    """One tier's request to reviewers: the sealed ``pack``, its ``evidence_hash``, the tier
    (``tier`` index of ``tier_count``), who may decide (``roles``), ``rule``/``required``, and
    ``requested_at``/``expires_at`` (UTC). ``approval_instance_id`` is the sub-orchestration that waits."""

    case_instance_id: str
    approval_instance_id: str
    tier: int
    tier_count: int
    roles: list[str]
    rule: ApprovalRuleName
    required: int
    requested_at: UtcDatetime
    expires_at: UtcDatetime
    remind_at: UtcDatetime
    evidence_hash: str
    pack: EvidencePack


class ApprovalDecision(_Model):
    """A reviewer's decision as raised to the approval sub-orchestration (event ``ApprovalDecision``):
    ``approver`` (identity), their ``roles``, ``at`` (UTC, when the API accepted it) and the
    ``evidence_hash`` of the pack they were shown. The decision endpoint binds it to the case
    (``case_instance_id``, ``approval_instance_id``, ``tier``) with a one-time ``nonce`` and a ``seal``
    (HMAC-SHA256 keyed by the app setting ``CASE_DECISION_SIGNING_KEY``; ``shared.decision_seal``): a
    decision without a valid seal is refused by the tier."""

    decision: DecisionValue
    reason: str = Field(default="", max_length=2000)
    approver: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(default_factory=list, max_length=100)
    at: UtcDatetime
    evidence_hash: str = Field(max_length=200)
    case_instance_id: str | None = Field(default=None, max_length=200)
    approval_instance_id: str | None = Field(default=None, max_length=200)
    tier: int | None = None
    nonce: str | None = Field(default=None, max_length=100)
    seal: str | None = Field(default=None, max_length=200)


class RefusedDecision(_Model):
    """A decision the orchestrator refused, kept with the ``reason`` (``raw`` is what arrived)."""

    raw: Any
    reason: str


class ApprovalGate(_Model):
    """Input of one approval tier sub-orchestration: what the orchestrator re-checks every decision
    against (``requester`` never approves, ``roles``, ``expires_at``, ``evidence_hash``) and the
    approvals carried over from earlier tiers (``prior``)."""

    case_instance_id: str
    tier: int
    requester: str
    roles: list[str]
    rule: ApprovalRuleName
    required: int = Field(ge=1)
    expires_at: UtcDatetime
    evidence_hash: str
    prior: list[ApprovalDecision] = Field(default_factory=list)


class ApprovalOutcome(_Model):
    """Output of one approval tier: ``outcome`` approved | rejected | expired, the ``accepted`` decisions
    (including carried-over ones), the ``refused`` ones, and ``decided_at`` (UTC)."""

    tier: int
    outcome: Literal["approved", "rejected", "expired"]
    accepted: list[ApprovalDecision]
    refused: list[RefusedDecision]
    decided_at: UtcDatetime


class Outcome(_Model):
    """How a case ended: final ``status``, a clear ``reason``, the ``action``/``tool`` concerned, the
    adapter ``result`` (or None), the distinct ``approvers`` and ``at`` (UTC)."""

    status: FinalStage
    reason: str
    action: str | None = None
    tool: str | None = None
    result: dict[str, Any] | None = None
    approvers: list[str] = Field(default_factory=list)
    at: UtcDatetime


class TimelineEntry(_Model):
    """A stage and the UTC time the case entered it."""

    stage: Stage
    at: UtcDatetime


class CaseStatus(BaseModel):
    """The case's custom status (what ``GET /api/cases/{id}`` shows): ``stage``, ``timeline``,
    ``pendingApproval`` (the current :class:`ApprovalRequest` as JSON, or None), ``outcome`` and
    ``approvalInstanceId`` (the tier sub-orchestration the decision endpoint raises events to),
    ``orchestrationVersion``, plus the event's identity and ``judgment`` (how the case was judged: source
    agent | rules | rules-fallback, model, tokens, calls, cost, reason; ``shared.judgment_budget.summarize``).
    Serialized with camelCase
    keys; must stay under the 16 KB custom-status limit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    case_id: str = Field(alias="caseId")
    event_id: str = Field(alias="eventId")
    event_type: str = Field(alias="eventType")
    requester: str
    stage: Stage
    timeline: list[TimelineEntry]
    pending_approval: ApprovalRequest | None = Field(default=None, alias="pendingApproval")
    approval_instance_id: str | None = Field(default=None, alias="approvalInstanceId")
    outcome: Outcome | None = None
    policy_version: str | None = Field(default=None, alias="policyVersion")
    risk_class: RiskClass | None = Field(default=None, alias="riskClass")
    judgment: dict[str, Any] | None = None
    #: While stage is ``stalled``: ``{"step", "reason", "since", "retryAt", "resumeStage"}`` (ISO UTC).
    stalled: dict[str, Any] | None = None
    #: The orchestration version the case was started with (``ExecutionStarted.Version``, ``""`` when
    #: unversioned; ``orchestrations/versions.py``). The Durable HTTP API does not report it; operators and
    #: ``tools/replay_gate.py`` read it here (docs/deploy.md "Retiring an orchestration version"). None in
    #: the custom status of cases written before it was stamped.
    orchestration_version: str | None = Field(default=None, alias="orchestrationVersion")

    def to_json(self) -> dict[str, Any]:
        """The custom-status JSON value (camelCase keys, ISO 8601 UTC times; ``stalled`` and
        ``orchestrationVersion`` only when set)."""
        data = self.model_dump(mode="json", by_alias=True)
        for optional in ("stalled", "orchestrationVersion"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


__all__ = [
    "RISK_ORDER",
    "ApprovalDecision",
    "ApprovalGate",
    "ApprovalOutcome",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ApprovalTier",
    "Assessment",
    "Budgets",
    "BusinessEvent",
    "CaseStatus",
    "Classification",
    "EvidencePack",
    "MergeResult",
    "Outcome",
    "PolicyDecision",
    "RefusedDecision",
    "RetryPolicy",
    "TimelineEntry",
]
