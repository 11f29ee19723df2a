"""The ``console`` blueprint: server-rendered pages for people (Jinja2, no front-end build).

- ``GET /api/inbox[?tab=decide|others|mine&riskClass=&minAgeHours=]``: what the signed-in person may decide
  now (soonest deadline first), "waiting on others", "my requests".
- ``GET /api/inbox/{id}``: the decision page: sealed evidence, specialists, deadline, and (for a person who
  may decide now) a form with **Reason**, **Approve** and **Reject**.
- ``POST /api/inbox/{id}`` (form: ``decision``, ``reason``, ``evidence_hash``, ``csrf_token``): decides
  through ``triggers.decision_flow.submit_decision``, the same path as ``POST /api/cases/{id}/decision``;
  303 back to the decision page on success, else the page again with the refusal (400/403/404/409).
- ``GET /api/console[?q=&stage=&runtimeStatus=&riskClass=&requester=&minAgeHours=&continuationToken=]`` and
  ``GET /api/console/cases/{id}``: every case the viewer may read, and one case in full (timeline, what it
  waits on, decisions and refused attempts, side effects, audit chain verdict, budgets).
- ``GET /api/console/static/{name}``: ``console.css`` and ``live.js`` (polls the page once a second and
  swaps its ``#live`` region; every page works without JavaScript).

A GET never decides anything (mail scanners prefetch notification links). Authorization level ANONYMOUS:
browsers carry no function key; App Service Authentication must be on for these routes (signed-out people
are sent to ``/.auth/login/aad``, or to devhost's development sign-in) and every handler fails closed
without an identity.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import azure.durable_functions as df
import azure.functions as func

from shared import audit, storage
from shared.identity import Principal
from shared.settings import AppSettings
from triggers import console_pages as pages
from triggers.audit_view import full_records
from triggers.console_common import Unauthenticated, access, load_rows, origin, viewer
from triggers.console_views import (
    RISK_CLASSES,
    RUNTIME_STATUSES,
    STAGES,
    BadQuery,
    CaseQuery,
    CaseRow,
    case_rows,
    inbox,
    page,
)
from triggers.decision_flow import runtime_of, submit_decision

bp = df.Blueprint()
logger = logging.getLogger("case.console")

AGES = (("", "any age"), ("1", "older than 1 hour"), ("24", "older than 1 day"), ("72", "older than 3 days"))
TABS = (("decide", "To decide"), ("others", "Waiting on others"), ("mine", "My requests"))
EMPTY = {"decide": "Nothing is waiting for your decision.",
         "others": "No case you may read is waiting on someone else.",
         "mine": "You have not requested any case."}


def _who(req: func.HttpRequest) -> Principal | func.HttpResponse:
    try:
        return viewer(req)
    except Unauthenticated as exc:
        if any(k.lower().startswith("x-ms-client-principal") for k in req.headers):
            return pages.message(401, "Not signed in", f"Your identity could not be read: {exc}")
        return pages.sign_in_redirect(pages.request_path(req))


async def _row(client: df.DurableOrchestrationClient, case_id: str, history: bool = False
               ) -> tuple[CaseRow | None, Any]:
    status = await client.get_status(case_id, show_history=history)
    if not status or getattr(status, "name", None) != "case_workflow":
        return None, None
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    statuses = [{"name": "case_workflow", "instanceId": case_id, "runtimeStatus": runtime_of(status),
                 "createdTime": _iso(status.created_time), "lastUpdatedTime": _iso(status.last_updated_time),
                 "customStatus": custom}]
    tier_id = custom.get("approvalInstanceId")
    if isinstance(tier_id, str) and tier_id:
        tier = await client.get_status(tier_id)
        if tier:
            statuses.append({"name": "approval_tier", "instanceId": tier_id,
                             "customStatus": tier.custom_status})
    return case_rows(statuses)[0], status


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")
    return str(value or "")


def _audit(case_id: str) -> tuple[list[dict[str, Any]], audit.VerifyResult]:
    """The case's audit records in full and the chain's verification. Storage is read on the request path
    (no retries, short timeouts: ``shared.storage.request_path``); an unsafe id reads nothing. Raises
    ``shared.storage.StorageUnavailable`` when storage fails."""
    if not storage.is_safe_key(case_id):
        return [], audit.VerifyResult(ok=True, count=0)
    settings = AppSettings.from_env()
    with storage.request_path("console audit"):
        result, raw = audit.read_verified(settings, case_id)
    return full_records(raw, result), result


def _unavailable(principal: Principal) -> func.HttpResponse:
    response = pages.message(503, "Storage is unavailable",
                             "The case's records cannot be read right now; try again in a moment.", principal)
    response.headers["Retry-After"] = str(storage.RETRY_AFTER_S)
    return response


@bp.route(route="console/static/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_static(req: func.HttpRequest) -> func.HttpResponse:
    """The pages' stylesheet and live-update script."""
    return pages.static_file(req.route_params.get("name", ""))


@bp.route(route="inbox", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def inbox_page(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The signed-in person's approval inbox."""
    principal = _who(req)
    if isinstance(principal, func.HttpResponse):
        return principal
    params = dict(req.params)
    tab = params.get("tab") if params.get("tab") in dict(TABS) else "decide"
    try:
        query = CaseQuery.from_params({k: params.get(k, "") for k in ("riskClass", "minAgeHours")})
    except BadQuery as exc:
        return pages.message(400, "Bad filter", str(exc), principal, pages.request_path(req))
    now = datetime.now(UTC)
    rows = [r for r in await load_rows(client) if query.matches(r, now)]
    box = inbox(principal, rows, access())
    sections = {"decide": box.decide, "others": box.others, "mine": box.mine}
    filters = {"riskClass": query.risk_class or "", "minAgeHours": params.get("minAgeHours", "")}
    suffix = "".join(f"&{k}={v}" for k, v in filters.items() if v)
    return pages.render(
        "inbox.html", principal=principal, nav="inbox", request_path=pages.request_path(req), tab=tab,
        tabs=[(key, label, len(sections[key])) for key, label in TABS], rows=sections[tab],
        caption=dict(TABS)[tab], empty=EMPTY[tab], filters=filters, filter_suffix=suffix,
        risk_classes=RISK_CLASSES, ages=AGES,
    )


async def _decision_page(client: df.DurableOrchestrationClient, req: func.HttpRequest, principal: Principal,
                         case_id: str, status_code: int = 200, flash: str | None = None,
                         flash_kind: str = "ok", reason: str = "") -> func.HttpResponse:
    row, _ = await _row(client, case_id)
    if row is None:
        return pages.message(404, "No such case", f"There is no case {case_id}.", principal)
    rules = access()
    if not rules.may_read(principal, row.custom):
        return pages.message(403, "Not yours to see",
                             "Only the requester, the people who may decide it and readers see this case.",
                             principal)
    pending = row.pending or {}
    pack = pending.get("pack") if isinstance(pending.get("pack"), dict) else None
    try:
        records, _ = await asyncio.to_thread(_audit, case_id)  # storage: off the loop
    except storage.StorageUnavailable:
        return _unavailable(principal)
    if pack is None:  # decided or never awaited approval: show the sealed pack from the audit trail
        for record in records:
            data = record.get("data") or {}
            if record.get("kind") in ("approval_requested", "approval_escalated") and data.get("pack"):
                pack = data["pack"]
    specialists, rule_id = pages.specialists(records)
    decides_now = rules.decides_now(principal, row)
    evidence_hash = pending.get("evidence_hash") or next(
        (r.get("data", {}).get("evidence_hash") for r in records
         if r.get("kind") in ("approval_requested", "approval_escalated")), None)
    return pages.render(
        "decision.html", status_code, principal=principal, nav="inbox", request_path=f"/api/inbox/{case_id}",
        row=row, pack=pack, evidence=(pack or {}).get("evidence") or {}, evidence_hash=evidence_hash,
        specialists=specialists, rule_id=rule_id, decides_now=decides_now,
        csrf_token=pages.form_token(principal, case_id) if decides_now else "",
        why_not=pages.why_not_deciding(principal, row.requester, row.stage, row.approved_by,
                                       list(pending.get("roles") or [])),
        flash=flash, flash_kind=flash_kind, reason=reason,
    )


@bp.route(route="inbox/{id}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def decision_page(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The decision page of one case: GET shows it (and never decides anything), POST is its form."""
    if req.method.upper() == "POST":
        return await _decide_from_page(req, client)
    principal = _who(req)
    if isinstance(principal, func.HttpResponse):
        return principal
    decided = req.params.get("decided")
    flash = {"approve": "Your approval was recorded.", "reject": "Your rejection was recorded."}.get(
        decided or "")
    return await _decision_page(client, req, principal, req.route_params.get("id", ""), flash=flash)


async def _decide_from_page(req: func.HttpRequest, client: df.DurableOrchestrationClient
                            ) -> func.HttpResponse:
    """The decision form's POST (see the module docstring)."""
    try:
        principal = viewer(req)
    except Unauthenticated as exc:
        return pages.message(401, "Not signed in", f"Sign in to decide: {exc}")
    case_id = req.route_params.get("id", "")
    try:
        form = dict(parse_qsl((req.get_body() or b"").decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        form = {}
    reason = (form.get("reason") or "").strip()

    async def again(status: int, text: str) -> func.HttpResponse:
        return await _decision_page(client, req, principal, case_id, status, text, "error", reason)

    if not pages.same_origin(req) or not pages.form_token_ok(principal, case_id, form.get("csrf_token")):
        logger.info("decision form on %s by %s refused: missing or wrong form token", case_id, principal.name)
        return await again(403, "Refused: the form token is missing or wrong. Reload the page and decide "
                                "again.")
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        return await again(400, "Choose Approve or Reject.")
    if not reason:
        return await again(400, "Reason is required: say why, it is recorded with your name.")
    if len(reason) > 2000:
        return await again(400, "Reason must be at most 2000 characters.")
    answer = await submit_decision(client, principal, case_id, decision, reason,
                                   form.get("evidence_hash") or "", origin(req))
    if answer.status == 202:
        location = f"/api/inbox/{case_id}?{urlencode({'decided': decision})}"
        headers = {"Location": location, "Cache-Control": "no-store"}
        return func.HttpResponse("", status_code=303, headers=headers)
    text = str(answer.body.get("error") or "refused")
    return await again(answer.status, f"Refused: {text}")


@bp.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def console_page(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Every case the viewer may read, searchable and paged."""
    principal = _who(req)
    if isinstance(principal, func.HttpResponse):
        return principal
    params = dict(req.params)
    try:
        query = CaseQuery.from_params({**params, "top": "50"})
    except BadQuery as exc:
        return pages.message(400, "Bad filter", str(exc), principal, pages.request_path(req))
    rows = access().readable(principal, await load_rows(client))
    chunk, token = page(rows, query, datetime.now(UTC))
    keep = {k: v for k, v in params.items() if k != "continuationToken" and v}
    next_url = f"/api/console?{urlencode({**keep, 'continuationToken': token})}" if token else None
    filters = {k: params.get(k, "") for k in ("q", "stage", "runtimeStatus", "riskClass", "requester",
                                               "minAgeHours")}
    return pages.render(
        "console.html", principal=principal, nav="console", request_path=pages.request_path(req), rows=chunk,
        next_url=next_url, filters=filters, stages=STAGES, runtime_statuses=RUNTIME_STATUSES,
        risk_classes=RISK_CLASSES, ages=AGES,
    )


@bp.route(route="console/cases/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def case_page(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """One case in full for operators (see the module docstring)."""
    principal = _who(req)
    if isinstance(principal, func.HttpResponse):
        return principal
    case_id = req.route_params.get("id", "")
    row, status = await _row(client, case_id, history=True)
    if row is None:
        return pages.message(404, "No such case", f"There is no case {case_id}.", principal)
    if not access().may_read(principal, row.custom):
        return pages.message(403, "Not yours to see",
                             "Only the requester, the people who may decide it and readers see this case.",
                             principal)
    try:
        records, chain = await asyncio.to_thread(_audit, case_id)
    except storage.StorageUnavailable:
        return _unavailable(principal)
    history = getattr(status, "historyEvents", None) or getattr(status, "history", None)  # SDK keeps the key
    history = history if isinstance(history, list) else None
    ended = row.updated if row.runtime_status not in ("Running", "Pending") else None
    return pages.render(
        "case.html", principal=principal, nav="console", request_path=pages.request_path(req), row=row,
        decisions=pages.decision_rows(records), effects=pages.effect_rows(records), chain=chain,
        budgets=pages.budgets(records, history, row.created, ended), retrying=pages.retrying(history),
    )
