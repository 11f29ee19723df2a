"""The one path a person's decision takes to a case's waiting approval tier, whichever door it came in by.

``POST /api/cases/{id}/decision`` (JSON, ``triggers/cases.py``) and any other decision door (e.g. an
approver page's form) parse their input, then call :func:`submit_decision`, which:

1. refuses when the signing key is missing (503 naming ``CASE_DECISION_SIGNING_KEY``) or the id is not a
   case id (404, before any storage call);
2. reads the case and its tier: not awaiting approval (or the tier not accepting yet / any more) → 409;
   storage or the task hub failing → 503 with ``Retry-After``; a terminated case's running tier is
   terminated (the runtime does not cascade terminate to sub-orchestrations);
3. runs the fast pre-check (``triggers.case_views.precheck_decision``: self-approval / missing role → 403,
   stale evidence / already decided → 409). A refused attempt is recorded in the audit trail
   (``shared.decision_records``, rate-limited per principal and case) and **never raised**, so it cannot
   grow the tier's history. Expiry is not pre-checked: the tier decides it on the orchestration clock;
4. records ``decision_submitted`` and raises the decision, sealed (``shared.decision_seal``) and bound to
   the case, approval instance and tier with a fresh nonce (``decisionId``). A tier gone meanwhile → 409;
   an infrastructure failure → 503.

The approval sub-orchestration verifies the seal and re-checks everything; it is the one choke point.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from shared import decision_records, decision_seal, storage
from shared.approvals import DECISION_EVENT
from shared.contracts.event import is_case_id
from shared.decision_records import RefusalLimiter
from shared.identity import Principal
from shared.settings import AppSettings
from triggers.case_views import (
    Answer,
    decision_payload,
    error,
    is_case,
    pending_request,
    precheck_decision,
    visible_stage,
)

logger = logging.getLogger("case.api")

_refusals = RefusalLimiter()


def runtime_of(status: Any) -> str | None:
    """The SDK status's runtime status as text (``Running`` ...), or None."""
    runtime = getattr(status, "runtime_status", None)
    return None if runtime is None else str(getattr(runtime, "value", runtime))


async def tier_status(client: df.DurableOrchestrationClient, custom: Any) -> Any:
    """The SDK status of the case's current approval tier instance, or None when it names none."""
    if not isinstance(custom, dict) or not custom.get("approvalInstanceId"):
        return None
    return await client.get_status(custom["approvalInstanceId"])


async def tier_progress(client: df.DurableOrchestrationClient, custom: Any) -> Any:
    """The custom status of the case's current approval tier (``{"approvedBy", "required", ...}``; ``{}``
    while its instance is Pending), or None while it has no tier instance."""
    tier = await tier_status(client, custom)
    if not tier or runtime_of(tier) is None:
        return None
    return tier.custom_status or {}


async def cascade_terminate(client: df.DurableOrchestrationClient, custom: Any) -> None:
    """Terminate a terminated case's still-running approval tier (best effort: logged, never raised).
    Source: IDurableOrchestrationClient.TerminateAsync remarks (sub-orchestrations are not terminated)."""
    try:
        tier = await tier_status(client, custom)
        if tier and runtime_of(tier) in ("Running", "Pending", "Suspended"):
            await client.terminate(custom["approvalInstanceId"], "the case was terminated")
    except Exception as exc:
        logger.info("cascading terminate to the approval tier failed: %s", exc)


def unavailable(what: str, exc: Exception) -> Answer:
    """503 with ``Retry-After`` for an infrastructure failure (storage, task hub)."""
    logger.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
    return Answer(
        503,
        {"error": f"{what} failed: storage or the task hub is unavailable; retry later"},
        {"Retry-After": str(storage.RETRY_AFTER_S)},
    )


def _is_conflict(exc: Exception) -> bool:
    """True for the SDK's 410/404 ``raise_event`` messages (tier gone / not there): a state conflict."""
    text = str(exc)
    return "is gone" in text or "No instance with ID" in text


def _record_refusal(principal: Principal, case_id: str, custom: dict, tier: int, decision: str,
                    refused: Answer) -> None:
    """Record a pre-check refusal (rate-limited per principal and case); never raised to the tier."""
    allowed, suppressed = _refusals.allow((case_id, principal.key))
    if not allowed:
        return
    data = {"approver": principal.name, "decision": decision, "tier": tier, "by": "endpoint",
            "reason": refused.body.get("error"), "suppressed": suppressed}
    try:
        with storage.request_path("decision refusal record"):
            decision_records.record(AppSettings.current(), case_id, str(custom.get("eventId") or ""),
                                    "decision_refused", data)
    except Exception as exc:  # the answer stays the refusal; the record is best effort
        logger.info("recording the refused decision on %s failed: %s", case_id, exc)


def _record_submitted(case_id: str, custom: dict, submitted: dict[str, Any]) -> None:
    """Record ``decision_submitted`` (fail fast: no retries, short timeouts). Synchronous storage calls: run
    it in a thread. Raises ``StorageUnavailable`` when storage fails."""
    with storage.request_path("decision record"):
        decision_records.record(AppSettings.current(), case_id, str(custom.get("eventId") or ""),
                                "decision_submitted", submitted)


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
    waiting tier (see the module docstring). ``evidence_hash`` is the hash the reviewer saw (None: not
    checked here; the tier still binds the decision to the current evidence). ``origin``
    (``https://host``) builds the status URL.

    Answers 202 ``{decisionId, ...}``, 403, 404, 409 or 503 (with ``Retry-After``)."""
    try:
        key = decision_seal.signing_key()
    except decision_seal.SigningKeyMissing as exc:
        logger.error("%s", exc)
        return error(503, f"the decision routes are disabled: {exc}")
    if not is_case_id(instance_id):
        return error(404, "no such case: case ids are letters, digits, - and _ (at most 100)")
    try:
        status = await client.get_status(instance_id)
        if not is_case(status):
            return error(404, f"no case {instance_id}")
        custom = status.custom_status if isinstance(status.custom_status, dict) else {}
        runtime = runtime_of(status)
        tier = await tier_status(client, custom) if runtime == "Running" else None
    except Exception as exc:
        return unavailable("reading the case", exc)
    if runtime == "Terminated":
        await cascade_terminate(client, custom)
    accepting = tier is not None and runtime_of(tier) in ("Pending", "Running")
    progress = (tier.custom_status or {}) if accepting else None
    request = pending_request(custom) if runtime == "Running" and accepting else None
    if request is None:
        stage = visible_stage(runtime, custom, progress, escalating=runtime == "Running")
        return error(409, f"case {instance_id} is not awaiting approval", stage=stage)
    decided_by = list(progress.get("approvedBy", [])) if isinstance(progress, dict) else []
    now = datetime.now(UTC)  # a stamp only: expiry is decided by the tier on the host's clock
    refused = precheck_decision(principal, request, custom["requester"], decided_by, evidence_hash, now)
    if refused is not None:
        logger.info("decision on %s by %s refused: %s", instance_id, principal.name, refused.body["error"])
        # storage calls are synchronous: off the event loop, which serves every other request meanwhile
        await asyncio.to_thread(_record_refusal, principal, instance_id, custom, request.tier, decision,
                                refused)
        return refused
    nonce = uuid.uuid4().hex
    payload = decision_payload(principal, decision, reason, request, now, key=key, nonce=nonce)
    submitted = {"nonce": nonce, "approver": principal.name, "decision": decision, "tier": request.tier,
                 "approval_instance_id": request.approval_instance_id}
    try:
        await asyncio.to_thread(_record_submitted, instance_id, custom, submitted)
    except Exception as exc:  # storage down: the tier's verdict is still audited (durably) once it is back
        logger.warning("recording decision %s on %s failed (%s); handing it on", nonce, instance_id, exc)
    try:
        await client.raise_event(request.approval_instance_id, DECISION_EVENT, payload)
    except Exception as exc:
        if not _is_conflict(exc):
            return unavailable("handing the decision to the approval tier", exc)
        logger.info("raising the decision on %s failed: %s", request.approval_instance_id, exc)
        return error(409, f"case {instance_id} is no longer waiting for this approval tier")
    logger.info("decision %s on %s by %s handed to %s", decision, instance_id, principal.name,
                request.approval_instance_id)
    return Answer(
        202,
        {
            "caseId": instance_id,
            "decisionId": nonce,
            "approvalInstanceId": request.approval_instance_id,
            "decision": decision,
            "approver": principal.name,
            "evidenceHash": request.evidence_hash,
            "statusUrl": f"{origin}/api/cases/{instance_id}",
            "auditUrl": f"{origin}/api/cases/{instance_id}/audit",
        },
    )
