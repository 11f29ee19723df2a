"""The approvals API: read a case, list pending approvals, decide one.

- ``GET /api/cases/{id}`` → ``{stage, timeline, pendingApproval, outcome, ...}``; 404 for an unknown case.
- ``GET /api/approvals`` → ``{"approvals": [...]}``: every case awaiting approval with its context (the
  sealed evidence pack), the roles allowed to decide and the URL to decide.
- ``GET /api/cases/{id}/audit`` → the case's hash-chained audit trail and its verification
  (``{"ok", "count", "firstBadSeq", "reason", "records"}``): a tampered record is reported, not hidden.
  Each record is returned in full, time order, with ``actor``, ``decision``, ``reason``, ``evidenceHash``
  and its ``chain`` verdict (``triggers/audit_view.py``).
- ``POST /api/cases/{id}/decision`` with ``{"decision": "approve"|"reject", "reason": "...",
  "evidence_hash": optional}`` → 202 when the decision is handed to the waiting approval (raised as event
  ``ApprovalDecision`` on the current tier's approval instance, ``approvalInstanceId`` in the custom
  status); 400 invalid body, 401 without identity, 403 self-approval or no allowed role, 404 unknown case,
  409 not awaiting approval (or expired, already decided, stale evidence). A 403 attempt (self-approval, no
  allowed role) is still raised to the tier, which refuses it and records it in the case's audit trail.

Identity and roles come from App Service Authentication headers (``X-MS-CLIENT-PRINCIPAL``,
``X-MS-CLIENT-PRINCIPAL-NAME``; ``shared.identity``). Authorization level: FUNCTION, like ``/api/events``:
a function key keeps anonymous internet callers out, and App Service Authentication (configured to require
authentication on these routes) supplies the identity that the decision checks need; a key alone
identifies nobody, so every route also answers 401 without a principal. Locally keys are not enforced.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared import audit, storage
from shared.contracts.event import CASE_WORKFLOW
from shared.identity import MalformedPrincipal, Principal, principal_from_headers
from shared.settings import AppSettings
from triggers.audit_view import full_records
from triggers.case_views import (
    Answer,
    approval_item,
    case_view,
    error,
    is_case,
    parse_decision_body,
    pending_request,
)
from triggers.decision_flow import submit_decision

bp = df.Blueprint()
logger = logging.getLogger("case.api")


def _respond(answer: Answer) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(answer.body), status_code=answer.status, mimetype="application/json")


def storage_unavailable() -> func.HttpResponse:
    """503 with ``Retry-After`` (seconds) when storage failed on the request path."""
    return func.HttpResponse(
        json.dumps({"error": "storage is unavailable; retry later"}),
        status_code=503,
        mimetype="application/json",
        headers={"Retry-After": str(storage.RETRY_AFTER_S)},
    )


def _principal(req: func.HttpRequest) -> Principal | Answer:
    try:
        principal = principal_from_headers(dict(req.headers.items()))
    except MalformedPrincipal as exc:
        return error(401, f"unauthenticated: {exc}")
    if principal is None:
        return error(401, "unauthenticated: send X-MS-CLIENT-PRINCIPAL / X-MS-CLIENT-PRINCIPAL-NAME")
    return principal


def _runtime(status: Any) -> str | None:
    runtime = getattr(status, "runtime_status", None)
    return None if runtime is None else str(getattr(runtime, "value", runtime))


def _origin(req: func.HttpRequest) -> str:
    url = req.url
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    return url if path_start < 0 else url[:path_start]


async def _progress(client: df.DurableOrchestrationClient, custom: Any) -> Any:
    if not isinstance(custom, dict) or not custom.get("approvalInstanceId"):
        return None
    tier = await client.get_status(custom["approvalInstanceId"])
    return tier.custom_status if tier else None


@bp.route(route="cases/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_case(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The case's stage, timeline, pending approval and outcome."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    instance_id = req.route_params.get("id", "")
    status = await client.get_status(instance_id)
    if not is_case(status):
        return _respond(error(404, f"no case {instance_id}"))
    progress = await _progress(client, status.custom_status)
    return _respond(Answer(200, case_view(instance_id, _runtime(status), status.custom_status, progress)))


@bp.route(route="cases/{id}/audit", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def get_case_audit(req: func.HttpRequest) -> func.HttpResponse:
    """The case's audit trail with the result of verifying its hash chain (first tampered record)."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    instance_id = req.route_params.get("id", "")
    if not storage.is_safe_key(instance_id):  # validated before any storage call
        return _respond(error(400, "the case id must be 1-256 characters of letters, digits and -_.:@"))
    settings = AppSettings.from_env()
    try:
        with storage.request_path("case audit"):  # fail fast: no retries, short timeouts
            result = audit.verify_case(settings, instance_id)
            raw = audit.read_raw(settings, instance_id) if result.count else []
    except storage.StorageUnavailable as exc:
        logger.warning("audit of %s: %s", instance_id, exc)
        return storage_unavailable()
    if result.count == 0:
        return _respond(error(404, f"no audit trail for {instance_id}"))
    records = full_records(raw, result)
    return _respond(
        Answer(
            200,
            {
                "caseId": instance_id,
                "ok": result.ok,
                "count": result.count,
                "firstBadSeq": result.first_bad_seq,
                "reason": result.reason,
                "records": records,
            },
        )
    )


@bp.route(route="approvals", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_approvals(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Every case awaiting approval, oldest request first, with its context and decision URL."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    statuses = await client.get_status_by(runtime_status=[df.OrchestrationRuntimeStatus.Running])
    origin = _origin(req)
    items = []
    for status in statuses:
        if status.name != CASE_WORKFLOW or pending_request(status.custom_status) is None:
            continue
        url = f"{origin}/api/cases/{status.instance_id}/decision"
        items.append(approval_item(status.instance_id, status.custom_status, url, principal))
    items.sort(key=lambda i: (i["requestedAt"] or "", i["caseId"]))
    return _respond(Answer(200, {"approvals": items, "count": len(items)}))


@bp.route(route="cases/{id}/decision", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def decide_case(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Hand an approve/reject decision to the case's waiting approval tier (see the module docstring)."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    try:
        body = json.loads(req.get_body() or b"null")
    except (ValueError, UnicodeDecodeError):
        return _respond(error(400, "the body must be JSON", fields=["<body>"]))
    parsed = parse_decision_body(body)
    if isinstance(parsed, Answer):
        return _respond(parsed)
    decision, reason, evidence_hash = parsed

    instance_id = req.route_params.get("id", "")
    answer = await submit_decision(
        client, principal, instance_id, decision, reason, evidence_hash, _origin(req)
    )
    return _respond(answer)
