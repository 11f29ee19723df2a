"""The approvals API: read a case, list pending approvals, decide one (threat model: docs/security.md).

- ``GET /api/cases/{id}`` → ``{stage, timeline, pendingApproval, outcome, ...}``; 403 when the caller may
  not read it (``shared.access``), 404 for an unknown or malformed id (checked before any storage call).
- ``GET /api/approvals`` → ``{"approvals": [...]}``: every case awaiting approval that the caller may read,
  with its context (the sealed evidence pack), the roles allowed to decide and the URL to decide.
- ``GET /api/cases/{id}/audit`` → the case's hash-chained audit trail and its verification
  (``{"ok", "count", "firstBadSeq", "reason", "records", "decisions"}``): a tampered record is reported,
  not hidden; ``decisions`` says what became of every decision (``shared.decision_records``). Each record
  is returned in full, in time order, with ``actor``, ``decision``, ``reason``, ``evidenceHash`` and its
  ``chain`` verdict (``triggers/audit_view.py``).
- ``POST /api/cases/{id}/decision`` with ``{"decision": "approve"|"reject", "reason": "...",
  "evidence_hash": optional}`` → 202 ``{decisionId, ...}`` when the decision, sealed with
  ``CASE_DECISION_SIGNING_KEY`` (``shared.decision_seal``), is handed to the waiting tier (event
  ``ApprovalDecision`` on ``approvalInstanceId``); 400 invalid body, 401 without identity, 403 self-approval
  or no allowed role, 404 unknown case, 409 stale evidence / already decided / not awaiting approval, 503
  with ``Retry-After`` when storage or the task hub fails or the signing key is missing. Refused attempts
  are recorded in the audit trail (rate-limited per principal) and never raised; expiry is decided by the
  tier on the orchestration's clock only.

Identity and roles come from App Service Authentication (``X-MS-CLIENT-PRINCIPAL``; ``shared.identity``),
ignored in Azure unless ``WEBSITE_AUTH_ENABLED`` is True. Authorization level: FUNCTION, like
``/api/events``: a function key keeps anonymous internet callers out, App Service Authentication supplies
the identity; a key alone identifies nobody, so every route also answers 401 without a principal. Locally
keys are not enforced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import httpx

from orchestrations import names
from shared import audit, decision_records, decision_seal, storage, strict_values
from shared.access import CaseFacts, case_facts, may_read_case, reader_roles
from shared.case_errors import PolicyError
from shared.contracts.event import CASE_WORKFLOW, is_case_id
from shared.identity import (
    AuthenticationNotConfigured,
    MalformedPrincipal,
    Principal,
    principal_from_headers,
)
from shared.policy import DEFAULT_POLICY_PATH, PolicyDocument, load_policy
from shared.settings import AppSettings
from triggers import case_source
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
from triggers.decision_flow import cascade_terminate, runtime_of, submit_decision, tier_progress

bp = df.Blueprint()
logger = logging.getLogger("case.api")


def check_decision_key_at_startup() -> str | None:
    """Log an error at start-up (module import) when the decision routes cannot work: the signing key is
    missing in Azure. Returns the problem (None when fine). The routes then answer 503 naming the setting;
    nothing else of the app is affected."""
    if not (os.environ.get("WEBSITE_INSTANCE_ID") or "").strip():
        return None  # locally devhost generates the key before the app is imported
    try:
        decision_seal.signing_key()
    except decision_seal.SigningKeyMissing as exc:
        logger.error("decision routes disabled at start-up: %s", exc)
        return str(exc)
    return None


check_decision_key_at_startup()


def _is_json(req: func.HttpRequest) -> bool:
    """True when the request's ``Content-Type`` is ``application/json`` or ``application/*+json``.

    The JSON decision route insists on it: with cookie sign-in (App Service Authentication's session
    cookie), a cross-site HTML form could otherwise post a decision in an approver's name, since browsers
    send ``text/plain``, ``multipart/form-data`` and ``application/x-www-form-urlencoded`` without a CORS
    preflight (https://fetch.spec.whatwg.org/#cors-safelisted-request-header). The approver pages post
    their own form with a CSRF token instead (``triggers/console.py``)."""
    media = (req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _respond(answer: Answer) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(answer.body),
        status_code=answer.status,
        mimetype="application/json",
        headers=answer.headers or None,
    )


def _read_trail(settings: AppSettings, instance_id: str) -> tuple[Any, list[tuple[str, bytes]]]:
    """The audit trail's verification and raw records, on the request path's storage call site (no
    retries, short timeouts; raises ``storage.StorageUnavailable``)."""
    with storage.request_path("case audit"):
        return audit.read_verified(settings, instance_id)


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
    except AuthenticationNotConfigured as exc:
        return error(401, str(exc))
    except MalformedPrincipal as exc:
        return error(401, f"unauthenticated: {exc}")
    if principal is None:
        return error(
            401, "unauthenticated: no X-MS-CLIENT-PRINCIPAL (sign in through App Service Authentication)"
        )
    return principal


_policy_cache: dict[tuple[str, float], PolicyDocument] = {}


def _policy() -> PolicyDocument | None:
    """The policy the activities use (``CASE_POLICY_PATH``), cached per file and modification time; None
    when it cannot be read (then only the requester and nobody else is authorized by role)."""
    try:
        settings = AppSettings.current()
        path = settings.policy_path
        file = path or str(DEFAULT_POLICY_PATH)
        key = (file, os.stat(file).st_mtime)
        if key not in _policy_cache:
            _policy_cache.clear()
            _policy_cache[key] = load_policy(path)
        return _policy_cache[key]
    except (OSError, PolicyError, ValueError) as exc:
        logger.warning("policy unreadable for authorization: %s", exc)
        return None


def _case_id(req: func.HttpRequest) -> str | Answer:
    """The route's case id, or a 404 when it is not shaped like one (checked before any storage call)."""
    instance_id = req.route_params.get("id", "")
    if not is_case_id(instance_id):
        return error(404, "no such case: case ids are letters, digits, - and _ (at most 100)")
    return instance_id


def _readable(principal: Principal, facts: CaseFacts, policy: PolicyDocument | None) -> Answer | None:
    """None when ``principal`` may read the case, else a 403 naming who may."""
    if may_read_case(principal, facts, reader_roles(policy)):
        return None
    return error(
        403,
        "forbidden: a case is readable by its requester, the roles that may decide it and the reader "
        f"roles ({', '.join(sorted(reader_roles(policy))) or 'none configured'})",
    )


def _origin(req: func.HttpRequest) -> str:
    url = req.url
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    return url if path_start < 0 else url[:path_start]


@bp.route(route="cases/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_case(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The case's stage, timeline, pending approval and outcome."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    instance_id = _case_id(req)
    if isinstance(instance_id, Answer):
        return _respond(instance_id)
    status = await client.get_status(instance_id)
    if not is_case(status):
        return _respond(error(404, f"no case {instance_id}"))
    policy = _policy()
    refused = _readable(principal, case_facts(status.custom_status, policy), policy)
    if refused is not None:
        return _respond(refused)
    if runtime_of(status) == "Terminated":
        await cascade_terminate(client, status.custom_status)
    progress = await tier_progress(client, status.custom_status)
    escalating = False
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    if progress is None and custom.get("stage") == "awaiting_approval":  # between tiers, or before the first?
        first = await client.get_status(names.approval_instance_id(instance_id, 0))
        escalating = bool(first) and runtime_of(first) is not None
    view = case_view(instance_id, runtime_of(status), status.custom_status, progress, escalating)
    return _respond(Answer(200, view))


@bp.route(route="cases/{id}/audit", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_case_audit(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The case's audit trail with the result of verifying its hash chain (first tampered record)."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    instance_id = _case_id(req)  # validated before any storage call
    if isinstance(instance_id, Answer):
        return _respond(instance_id)
    status = await client.get_status(instance_id)
    policy = _policy()
    facts = case_facts(status.custom_status, policy) if is_case(status) else CaseFacts(None, frozenset())
    refused = _readable(principal, facts, policy)
    if refused is not None:  # a purged case's trail stays readable by the reader roles only
        return _respond(refused if is_case(status) else error(404, f"no audit trail for {instance_id}"))
    settings = AppSettings.current()
    try:  # sync storage calls off the event loop, so a slow storage never stalls other requests
        result, raw = await asyncio.to_thread(_read_trail, settings, instance_id)
    except storage.StorageUnavailable as exc:
        logger.warning("audit of %s: %s", instance_id, exc)
        return storage_unavailable()
    if result.count == 0:
        return _respond(error(404, f"no audit trail for {instance_id}"))
    records = full_records(raw, result)  # each record in full, with its chain verdict
    parsed: list[dict[str, Any]] = [r for r in records if not r.get("unreadable")]
    custom = status.custom_status if is_case(status) and isinstance(status.custom_status, dict) else {}
    pending = pending_request(custom) if runtime_of(status) == "Running" else None
    open_tiers = [pending.tier] if pending is not None else []
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
                "decisions": decision_records.decision_outcomes(parsed, open_tiers),
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
    try:  # every page: the SDK's get_status_by reads only the first (see triggers/case_source.py)
        statuses = await case_source.list_instances(client, runtime_statuses=["Running"])
    except (case_source.CaseSourceError, httpx.HTTPError) as exc:
        logger.warning("listing approvals failed: %s", type(exc).__name__)
        answer = error(503, "the task hub cannot be read right now; try again shortly")
        return _respond(Answer(503, answer.body, {"Retry-After": str(storage.RETRY_AFTER_S)}))
    origin = _origin(req)
    policy = _policy()
    readers = reader_roles(policy)
    items = []
    for status in statuses:
        instance_id, custom = status.get("instanceId"), status.get("customStatus")
        if status.get("name") != CASE_WORKFLOW or pending_request(custom) is None:
            continue
        if not isinstance(instance_id, str):
            continue
        if not may_read_case(principal, case_facts(custom, policy), readers):
            continue
        url = f"{origin}/api/cases/{instance_id}/decision"
        items.append(approval_item(instance_id, custom, url, principal))
    items.sort(key=lambda i: (i["requestedAt"] or "", i["caseId"]))
    return _respond(Answer(200, {"approvals": items, "count": len(items)}))


@bp.route(route="cases/{id}/decision", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def decide_case(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Hand an approve/reject decision to the case's waiting approval tier (see the module docstring)."""
    principal = _principal(req)
    if isinstance(principal, Answer):
        return _respond(principal)
    if not _is_json(req):  # a cross-site form can send only text/plain or form types without a preflight
        return _respond(error(415, "send the decision as Content-Type: application/json", fields=["<body>"]))
    try:
        body = strict_values.loads(req.get_body() or b"null")
    except strict_values.HostileJson as exc:
        return _respond(error(400, f"the body is refused: {exc}", fields=["<body>"]))
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
