"""Pure approval logic: the sealed evidence pack, the re-check of every decision, and the quorum tally.

The orchestrator is the one choke point for decisions: whichever channel raised an ``ApprovalDecision``
event, :func:`check_decision` re-checks it (identity present, an allowed role, not the requester, the
evidence hash the reviewer saw, not past the deadline, not already decided by that approver). The HTTP
endpoint calls :func:`precheck` with the same rules only to answer fast. :func:`seal` hashes exactly what the
reviewer is shown (canonical JSON of the :class:`EvidencePack`), and that hash travels with every decision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.contracts.case import (
    ApprovalDecision,
    ApprovalGate,
    ApprovalOutcome,
    Classification,
    EvidencePack,
    MergeResult,
    PolicyDecision,
)
from shared.contracts.event import BusinessEvent
from shared.identity import identity_key, same_identity

#: Name of the external event a decision is raised as (on the tier's approval sub-orchestration).
DECISION_EVENT = "ApprovalDecision"

_IMPACT = {
    "read": "Reads or files information; no external state changes.",
    "write": "Changes external state in a bounded, correctable way.",
    "privileged": "Changes access, production or account state; affects other people or systems.",
    "irreversible": "Cannot be undone once applied.",
}
_ROLLBACK = {
    "read": "Nothing to roll back.",
    "write": "Apply the compensating action (re-open / re-issue) through the same tool.",
    "privileged": "Revert the change manually in the target system and record it on the case.",
    "irreversible": "No automatic rollback: restore from backups or contact the counterparty.",
}


#: Limits that keep the evidence pack (shown in the custom status, 16 KB max on Azure) small.
MAX_EVIDENCE_ATTRIBUTES = 30
MAX_EVIDENCE_TEXT = 200


def _bounded(attributes: dict[str, Any]) -> dict[str, Any]:
    """The first :data:`MAX_EVIDENCE_ATTRIBUTES` attributes (sorted by name), long texts cut."""
    out: dict[str, Any] = {}
    for key in sorted(attributes)[:MAX_EVIDENCE_ATTRIBUTES]:
        value = attributes[key]
        out[key] = value[:MAX_EVIDENCE_TEXT] if isinstance(value, str) else value
    return out


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 characters kept (stable across processes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal(pack: EvidencePack) -> str:
    """The evidence hash: ``sha256:`` + hex SHA-256 of the pack's canonical JSON."""
    digest = hashlib.sha256(canonical_json(pack.model_dump(mode="json")).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


def build_evidence_pack(
    case_instance_id: str,
    event: BusinessEvent,
    classification: Classification,
    merged: MergeResult,
    decision: PolicyDecision,
) -> EvidencePack:
    """What reviewers see (seeds 001 §5.3): action summary, target, estimated impact, rollback hint, risk
    class, and the evidence behind the recommendation (classification, merged assessments, event facts)."""
    target = event.subject or str(event.attributes.get("repository") or event.source)
    amount = event.attributes.get("amount")
    money = f" of {amount} {event.attributes.get('currency') or ''}".rstrip() if amount is not None else ""
    summary = f"{decision.action}{money} on {target} via {decision.tool}, requested by {event.requester}"
    return EvidencePack(
        case_instance_id=case_instance_id,
        event_id=event.event_id,
        event_type=event.type,
        requester=event.requester,
        action_summary=summary,
        target=target,
        estimated_impact=_IMPACT[decision.risk_class] + (f" Amount{money}." if money else ""),
        rollback_hint=_ROLLBACK[decision.risk_class],
        risk_class=decision.risk_class,
        policy_version=decision.policy_version,
        evidence={
            "classification": classification.model_dump(mode="json"),
            "recommendation": merged.recommendation,
            "confidence": merged.confidence,
            "merge_rule": merged.rule,
            "reasons": merged.reasons[:10],
            "risks": merged.risks[:10],
            "attributes": _bounded(event.attributes),
            "policy_notes": decision.notes,
        },
    )


def parse_decision(raw: Any) -> ApprovalDecision:
    """An event payload as an :class:`ApprovalDecision`. Accepts the dict, or the JSON string the Python
    client's double encoding delivers (docs/durable-extension-protocol.md#external-events). Raises
    ``ValueError`` when it is neither."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError("decision is not JSON") from exc
    try:
        return ApprovalDecision.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ValueError(f"decision is invalid ({fields})") from exc


def refusal(
    approver: str,
    roles: Iterable[str],
    *,
    requester: str,
    allowed_roles: Sequence[str],
    expires_at: datetime,
    now: datetime | None,
    decided_by: Iterable[str] = (),
) -> str | None:
    """Why this approver may not decide now, or None when they may (shared by endpoint and orchestrator).

    ``now`` None skips the expiry check: only the orchestration decides expiry, on its own clock (the
    host's), so the endpoint never contradicts it with a clock of its own."""
    if not identity_key(approver):
        return "no identity"
    if same_identity(approver, requester):
        return f"{approver} requested this case and cannot decide it (separation of duties)"
    if set(roles).isdisjoint(allowed_roles):
        return f"{approver} has none of the roles allowed to decide: {', '.join(allowed_roles)}"
    if now is not None and now >= expires_at:
        return f"the approval expired at {expires_at.isoformat()}"
    if any(same_identity(approver, other) for other in decided_by):
        return f"{approver} has already decided this case"
    return None


@dataclass(frozen=True)
class DecisionCheck:
    """Result of :func:`check_decision`: the parsed ``decision`` (None if unparseable) and the refusal
    ``reason`` (None when accepted)."""

    decision: ApprovalDecision | None
    reason: str | None

    @property
    def accepted(self) -> bool:
        """True when the decision counts."""
        return self.decision is not None and self.reason is None


def check_decision(
    raw: Any, gate: ApprovalGate, accepted: Sequence[ApprovalDecision], now: datetime
) -> DecisionCheck:
    """Re-check one raised decision against the tier's ``gate`` and the decisions ``accepted`` so far.

    ``now`` is the orchestrator's ``current_utc_datetime``. Pure and deterministic.
    """
    try:
        decision = parse_decision(raw)
    except ValueError as exc:
        return DecisionCheck(None, str(exc))
    if decision.evidence_hash != gate.evidence_hash:
        return DecisionCheck(decision, "the decision was made on different evidence than this request shows")
    reason = refusal(
        decision.approver,
        decision.roles,
        requester=gate.requester,
        allowed_roles=gate.roles,
        expires_at=gate.expires_at,
        now=now,
        decided_by=[d.approver for d in accepted],
    )
    return DecisionCheck(decision, reason)


def tally(accepted: Sequence[ApprovalDecision], required: int) -> str | None:
    """``rejected`` if any accepted decision rejects (one veto is enough), ``approved`` once ``required``
    distinct approvers approved, else None (keep waiting)."""
    if any(d.decision == "reject" for d in accepted):
        return "rejected"
    approvers = {identity_key(d.approver) for d in accepted if d.decision == "approve"}
    return "approved" if len(approvers) >= required else None


def distinct_approvers(accepted: Sequence[ApprovalDecision]) -> list[str]:
    """Approvers of accepted approve decisions, first-seen order, one per identity."""
    names: list[str] = []
    for d in accepted:
        if d.decision == "approve" and not any(same_identity(d.approver, n) for n in names):
            names.append(d.approver)
    return names


def _bound(gate: ApprovalGate, approval_instance_id: str) -> dict[str, Any]:
    """What every decision a tier accepts is bound to (verified seal, re-checked evidence hash)."""
    return {
        "evidence_hash": gate.evidence_hash,
        "case_instance_id": gate.case_instance_id,
        "approval_instance_id": approval_instance_id,
        "tier": gate.tier,
    }


def brief_outcome(outcome: ApprovalOutcome, gate: ApprovalGate, approval_instance_id: str) -> dict[str, Any]:
    """A tier's output (orchestration version 6.0): ``outcome``'s JSON whose decisions accepted in this tier
    leave out what the case knows of them: the evidence hash, case and approval instance ids and tier it
    gave the tier (``gate``, ``approval_instance_id``), which the tier verified they are bound to; decisions
    carried over from earlier tiers stay whole. :func:`full_outcome` restores them."""
    out = outcome.model_dump(mode="json")
    bound = _bound(gate, approval_instance_id)
    out["accepted"] = [
        {k: v for k, v in d.items() if k not in bound} if all(d.get(k) == v for k, v in bound.items()) else d
        for d in out["accepted"]
    ]
    return out


def full_outcome(raw: Any, gate: ApprovalGate, approval_instance_id: str) -> ApprovalOutcome:
    """The :class:`ApprovalOutcome` of a tier's output, whole or brief (:func:`brief_outcome`: an accepted
    decision without ``evidence_hash`` gets the fields of the tier it was given, ``gate`` and
    ``approval_instance_id``). Raises ``ValidationError`` for an output of another shape."""
    accepted = raw.get("accepted") if isinstance(raw, dict) else None
    if isinstance(accepted, list):
        bound = _bound(gate, approval_instance_id)
        whole = [{**d, **bound} if isinstance(d, dict) and "evidence_hash" not in d else d for d in accepted]
        raw = {**raw, "accepted": whole}
    return ApprovalOutcome.model_validate(raw)
