"""The one path a person's decision takes to a case's waiting approval tier, whichever door it came in by.

``POST /api/cases/{id}/decision`` (JSON, ``triggers/cases.py``) and the decision page's form
(``POST /api/inbox/{id}``, ``triggers/console.py``) both parse their input, then call
:func:`submit_decision`: read the case, run the fast checks (``triggers.case_views.precheck_decision``),
and raise ``ApprovalDecision`` on the tier's approval instance. A forbidden attempt (self-approval, no
allowed role) is still raised, so the tier refuses it and the case's audit trail records it. The approval
sub-orchestration re-checks every decision and is the one choke point.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from shared.approvals import DECISION_EVENT
from shared.identity import Principal
from triggers.case_views import (
    Answer,
    decision_payload,
    error,
    is_case,
    pending_request,
    precheck_decision,
)

logger = logging.getLogger("case.api")


def runtime_of(status: Any) -> str | None:
    """The SDK status's runtime status as text (``Running`` ...), or None."""
    runtime = getattr(status, "runtime_status", None)
    return None if runtime is None else str(getattr(runtime, "value", runtime))


async def tier_progress(client: df.DurableOrchestrationClient, custom: Any) -> Any:
    """The custom status of the case's current approval tier (``{"approvedBy", "required", ...}``) or
    None when it has none."""
    if not isinstance(custom, dict) or not custom.get("approvalInstanceId"):
        return None
    tier = await client.get_status(custom["approvalInstanceId"])
    return tier.custom_status if tier else None


async def submit_decision(
    client: df.DurableOrchestrationClient,
    principal: Principal,
    instance_id: str,
    decision: str,
    reason: str,
    evidence_hash: str | None,
    origin: str,
) -> Answer:
    """Hand ``principal``'s ``decision`` (approve | reject) with ``reason`` on case ``instance_id`` to its
    waiting tier. ``evidence_hash`` is the hash the reviewer saw (None: not checked here; the tier still
    binds the decision to the current evidence). ``origin`` (``https://host``) builds the status URL.

    Answers 202 (handed on), 403 (self-approval, no allowed role), 404 (unknown case), 409 (not awaiting
    approval, expired, already decided, stale evidence, tier gone)."""
    status = await client.get_status(instance_id)
    if not is_case(status):
        return error(404, f"no case {instance_id}")
    custom = status.custom_status
    request = pending_request(custom) if runtime_of(status) == "Running" else None
    if request is None:
        stage = custom.get("stage") if isinstance(custom, dict) else None
        return error(409, f"case {instance_id} is not awaiting approval", stage=stage)
    progress = await tier_progress(client, custom)
    decided_by = list((progress or {}).get("approvedBy", [])) if isinstance(progress, dict) else []
    now = datetime.now(UTC)
    refused = precheck_decision(principal, request, custom["requester"], decided_by, evidence_hash, now)
    payload = decision_payload(principal, decision, reason, request, now)
    if refused is not None:
        logger.info("decision on %s by %s refused: %s", instance_id, principal.name, refused.body["error"])
        if refused.status == 403:  # forbidden attempts are still handed on: the tier refuses and records them
            try:
                await client.raise_event(request.approval_instance_id, DECISION_EVENT, payload)
            except Exception as exc:
                logger.info(
                    "recording the refused decision on %s failed: %s", request.approval_instance_id, exc
                )
        return refused
    try:
        await client.raise_event(request.approval_instance_id, DECISION_EVENT, payload)
    except Exception as exc:  # the tier ended meanwhile (410) or is not there (404)
        logger.info("raising the decision on %s failed: %s", request.approval_instance_id, exc)
        return error(409, f"case {instance_id} is no longer waiting for this approval tier")
    logger.info(
        "decision %s on %s by %s handed to %s",
        decision,
        instance_id,
        principal.name,
        request.approval_instance_id,
    )
    return Answer(
        202,
        {
            "caseId": instance_id,
            "approvalInstanceId": request.approval_instance_id,
            "decision": decision,
            "approver": principal.name,
            "evidenceHash": request.evidence_hash,
            "statusUrl": f"{origin}/api/cases/{instance_id}",
        },
    )
