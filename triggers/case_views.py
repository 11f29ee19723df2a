"""Plain logic behind the approvals API (no Azure Functions types): case views and the decision pre-check.

``triggers/cases.py`` reads statuses through the durable client and calls these functions; they decide the
HTTP answer. The pre-check only gives fast errors: the approval sub-orchestration re-checks every decision
(``shared.approvals.check_decision``) and is the one choke point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared import decision_seal
from shared.access import CaseFacts, may_decide
from shared.approvals import refusal, same_identity
from shared.contracts.case import ApprovalDecision, ApprovalRequest
from shared.contracts.event import CASE_WORKFLOW
from shared.identity import Principal


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: ``status`` code, JSON ``body`` and extra ``headers`` (e.g. ``Retry-After``)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str, **extra: Any) -> Answer:
    """``{"error": message, ...}`` with ``status``."""
    return Answer(status, {"error": message, **extra})


def is_case(status: Any) -> bool:
    """True for an existing ``case_workflow`` instance (the SDK returns a falsy status when unknown)."""
    return bool(status) and getattr(status, "name", None) == CASE_WORKFLOW


def visible_stage(
    runtime_status: str | None, custom_status: Any, progress: Any, escalating: bool = False
) -> str:
    """The stage a caller sees. ``terminated`` for a terminated case (its custom status is frozen where it
    stopped). ``awaiting_approval`` once the first tier accepts decisions (its instance exists: ``progress``
    is its custom status) or while escalating between tiers (``escalating``: an earlier tier ran); before
    that, the stage before it, so a client that polls and then decides is not answered 409 for being early."""
    status = custom_status if isinstance(custom_status, dict) else {}
    stage = str(status.get("stage", "received"))
    if runtime_status == "Terminated":
        return "terminated"
    if stage == "awaiting_approval" and progress is None and not escalating:
        earlier = [t.get("stage") for t in status.get("timeline", []) if isinstance(t, dict)]
        earlier = [s for s in earlier if s and s != "awaiting_approval"]
        return str(earlier[-1]) if earlier else "classified"
    return stage


def case_view(
    instance_id: str,
    runtime_status: str | None,
    custom_status: Any,
    progress: Any = None,
    escalating: bool = False,
) -> dict:
    """``GET /api/cases/{id}`` body: ``stage`` (:func:`visible_stage`), ``timeline``, ``pendingApproval``,
    ``outcome`` (and the event identity, policy version, risk class, runtime status, the current tier's
    ``approvalProgress``, and ``judgment``: source, model, tokens, calls, cost and reason of the case's
    judgment)."""
    status = custom_status if isinstance(custom_status, dict) else {}
    stage = visible_stage(runtime_status, custom_status, progress, escalating)
    accepting = stage == "awaiting_approval" and progress is not None
    return {
        "caseId": instance_id,
        "runtimeStatus": runtime_status,
        "stage": stage,
        "timeline": status.get("timeline", []),
        "pendingApproval": status.get("pendingApproval") if accepting else None,
        "approvalInstanceId": status.get("approvalInstanceId"),
        "approvalProgress": progress if accepting else None,
        "outcome": status.get("outcome"),
        "eventId": status.get("eventId"),
        "eventType": status.get("eventType"),
        "requester": status.get("requester"),
        "policyVersion": status.get("policyVersion"),
        "riskClass": status.get("riskClass"),
        "judgment": status.get("judgment"),  # source, model, tokens, calls, cost, reason
        "stalled": status.get("stalled"),  # while stage is stalled: step, reason, since, retryAt
    }


def pending_request(custom_status: Any) -> ApprovalRequest | None:
    """The pending approval of a case's custom status, or None when the case is not awaiting approval."""
    if not isinstance(custom_status, dict) or custom_status.get("stage") != "awaiting_approval":
        return None
    raw = custom_status.get("pendingApproval")
    if not isinstance(raw, dict) or not custom_status.get("approvalInstanceId"):
        return None
    try:
        return ApprovalRequest.model_validate(raw)
    except ValidationError:
        return None


def approval_item(
    instance_id: str, custom_status: dict, decide_url: str, principal: Principal | None
) -> dict:
    """One entry of ``GET /api/approvals``: the request's context, who may decide, and the URL to decide."""
    request = custom_status["pendingApproval"]
    roles = request.get("roles", [])
    can_decide = None
    if principal is not None:
        can_decide = may_decide(principal, CaseFacts(custom_status.get("requester"), frozenset()), roles)
    return {
        "caseId": instance_id,
        "eventType": custom_status.get("eventType"),
        "requester": custom_status.get("requester"),
        "riskClass": custom_status.get("riskClass"),
        "policyVersion": custom_status.get("policyVersion"),
        "tier": request.get("tier"),
        "roles": roles,
        "rule": request.get("rule"),
        "required": request.get("required"),
        "requestedAt": request.get("requested_at"),
        "expiresAt": request.get("expires_at"),
        "evidenceHash": request.get("evidence_hash"),
        "context": request.get("pack"),
        "decideUrl": decide_url,
        "canDecide": can_decide,
    }


def parse_decision_body(body: Any) -> tuple[str, str, str | None] | Answer:
    """``{"decision": "approve"|"reject", "reason": str, "evidence_hash"?: str}`` → (decision, reason,
    evidence hash or None), or a 400 :class:`Answer` naming the invalid fields."""
    if not isinstance(body, dict):
        return error(400, "the body must be a JSON object", fields=["<body>"])
    bad = []
    decision = body.get("decision")
    if decision not in ("approve", "reject"):
        bad.append("decision")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 2000:
        bad.append("reason")
    evidence = body.get("evidence_hash")
    if evidence is not None and not isinstance(evidence, str):
        bad.append("evidence_hash")
    if bad:
        return error(400, "invalid decision: decision must be approve or reject, reason a string", fields=bad)
    return decision, reason, evidence  # type: ignore[return-value]


def precheck_decision(
    principal: Principal,
    request: ApprovalRequest,
    requester: str,
    decided_by: list[str],
    evidence_hash: str | None,
    now: datetime,
) -> Answer | None:
    """The endpoint's fast checks (None when the decision may be handed on): self-approval or a missing role
    → 403; stale evidence or an approver who already decided → 409. Expiry is not checked here: the
    tier decides it on the orchestration's clock (``now`` is accepted for compatibility and ignored)."""
    if evidence_hash is not None and evidence_hash != request.evidence_hash:
        return error(
            409,
            "the evidence changed since you looked: reload the approval and decide again",
            evidence_hash=request.evidence_hash,
        )
    reason = refusal(
        principal.name,
        principal.roles,
        requester=requester,
        allowed_roles=request.roles,
        expires_at=request.expires_at,
        now=None,
        decided_by=decided_by,
    )
    if reason is None:
        return None
    if same_identity(principal.name, requester):
        return error(403, f"self-approval refused: {reason}")
    if principal.roles.isdisjoint(request.roles):
        return error(403, f"forbidden: {reason}", roles=request.roles)
    return error(409, reason)


def decision_payload(
    principal: Principal,
    decision: str,
    reason: str,
    request: ApprovalRequest,
    now: datetime,
    *,
    key: bytes | None = None,
    nonce: str | None = None,
) -> dict:
    """The ``ApprovalDecision`` event data raised to the tier's approval instance, bound to the case,
    approval instance and tier with ``nonce`` and sealed with ``key`` (``shared.decision_seal``)."""
    payload = ApprovalDecision(
        decision=decision,  # type: ignore[arg-type]
        reason=reason,
        approver=principal.name,
        roles=sorted(principal.roles & set(request.roles)),  # only the roles that matter here (bounded)
        at=now,
        evidence_hash=request.evidence_hash,
        case_instance_id=request.case_instance_id,
        approval_instance_id=request.approval_instance_id,
        tier=request.tier,
        nonce=nonce,
    ).model_dump(mode="json")
    if key is not None:
        payload["seal"] = decision_seal.seal(key, payload)
    return payload
