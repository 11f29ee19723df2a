"""Rendering for the people pages (inbox, decision page, case console): templates, form tokens, headers.

- Templates: Jinja2 (https://jinja.palletsprojects.com/en/3.1.x/api/), files in ``triggers/templates/``,
  autoescaping on for every template; static files (``console.css``, ``live.js``) in ``triggers/static/``.
- Form token (CSRF): ``HMAC-SHA256(key, "decide|<identity key>|<case id>")`` in base64url (identity key:
  ``shared.identity.identity_key``). The key is the
  app setting ``CASE_CONSOLE_FORM_KEY`` (in Azure a Key Vault reference, ``infra/main.bicep``); without it,
  or when the reference did not resolve, a random key is made per process (tokens then stop working after a
  restart or on another instance). Pure apart from that.
- Responses carry ``Content-Security-Policy`` (scripts, styles and forms from this origin only, no framing),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` and ``Cache-Control: no-store``.
- Sign-in: a page request without identity is redirected to App Service Authentication's
  ``/.auth/login/aad?post_login_redirect_uri=<page>``, or to the path in the app setting
  ``DEVHOST_AUTH_LOGIN_PATH`` when devhost emulates sign-in (development only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import azure.functions as func
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.identity import Principal, same_identity
from shared.secret_settings import secret_setting
from triggers.console_views import age, time_left

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_BASE = "/api/console/static"
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "live.js": "text/javascript; charset=utf-8"}
FORM_KEY_SETTING = "CASE_CONSOLE_FORM_KEY"
LOGIN_PATH_SETTING = "DEVHOST_AUTH_LOGIN_PATH"
AZURE_LOGIN_PATH = "/.auth/login/aad"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_process_key = secrets.token_bytes(32)


def render(template: str, status: int = 200, **context: Any) -> func.HttpResponse:
    """The HTML response of ``template`` with ``context`` (plus ``time_left``/``age`` helpers)."""
    now = datetime.now(UTC)
    page = _env.get_template(template).render(
        static_base=STATIC_BASE,
        time_left=lambda value: time_left(value, now),
        age=lambda value: age(value, now),
        **context,
    )
    return func.HttpResponse(page, status_code=status, mimetype="text/html", charset="utf-8",
                             headers=dict(SECURITY_HEADERS))


def message(status: int, heading: str, text: str, principal: Principal | None = None,
            request_path: str = "/api/inbox", link: str | None = None,
            link_text: str = "") -> func.HttpResponse:
    """A page with a heading and one message (errors, refusals)."""
    return render("message.html", status, heading=heading, message=text, principal=principal,
                  request_path=request_path, link=link, link_text=link_text, nav=None)


def static_file(name: str) -> func.HttpResponse:
    """``console.css`` or ``live.js`` (404 for anything else)."""
    if name not in STATIC_TYPES:
        return func.HttpResponse("not found", status_code=404)
    body = (STATIC / name).read_bytes()
    return func.HttpResponse(body, status_code=200, headers={
        "Content-Type": STATIC_TYPES[name], "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff"})


def sign_in_redirect(request_path: str) -> func.HttpResponse:
    """302 to the sign-in page with ``post_login_redirect_uri`` set to ``request_path``."""
    login = os.environ.get(LOGIN_PATH_SETTING) or AZURE_LOGIN_PATH
    target = f"{login}?post_login_redirect_uri={quote(request_path, safe='/')}"
    return func.HttpResponse("", status_code=302, headers={"Location": target, "Cache-Control": "no-store"})


def request_path(req: func.HttpRequest) -> str:
    """The path and query of the request URL (``/api/inbox?tab=mine``)."""
    url = req.url
    scheme_end = url.find("://")
    start = url.find("/", scheme_end + 3) if scheme_end >= 0 else 0
    return url[start:] if start >= 0 else "/"


def _form_key() -> bytes:
    """The form-token key: ``CASE_CONSOLE_FORM_KEY``, or the per-process random key when it is unset or an
    unresolved Key Vault reference (``shared.secret_settings``: that text is no secret)."""
    configured = secret_setting(os.environ, FORM_KEY_SETTING)
    return configured.encode() if configured else _process_key


def form_token(principal: Principal, case_id: str) -> str:
    """The decision form's token for ``principal`` on ``case_id`` (see the module docstring)."""
    identity = principal.key  # shared.identity.identity_key: look-alike spellings are one identity
    digest = hmac.new(_form_key(), f"decide|{identity}|{case_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def form_token_ok(principal: Principal, case_id: str, token: str | None) -> bool:
    """True when ``token`` is the form token of ``principal`` on ``case_id`` (constant-time compare)."""
    return bool(token) and hmac.compare_digest(str(token), form_token(principal, case_id))


def same_origin(req: func.HttpRequest) -> bool:
    """False when the request's ``Origin`` header names another origin than its ``Host`` (a cross-site
    form post); True when they match or the browser sent no Origin."""
    origin = req.headers.get("origin")
    if not origin or origin == "null":
        return not origin
    host = req.headers.get("x-forwarded-host") or req.headers.get("host") or ""
    return origin.split("://", 1)[-1].rstrip("/") == host


def specialists(audit_records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """Each specialist's assessment and the policy rule id, from the case's ``classified`` stage record."""
    for record in audit_records:
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        if record.get("kind") == "stage" and data.get("stage") == "classified":
            merge = data.get("merge") if isinstance(data.get("merge"), dict) else {}
            decision = data.get("decision") if isinstance(data.get("decision"), dict) else {}
            inputs = [i for i in merge.get("inputs", []) if isinstance(i, dict)]
            return inputs, decision.get("rule_id")
    return [], None


#: History events (status API shape: a schedule is merged into its completion) that each stand for one
#: activity attempt or sub-orchestration the case scheduled.
_STEP_EVENTS = frozenset({"TaskScheduled", "TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCreated",
                          "SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed"})


def budgets(audit_records: list[dict[str, Any]], history: list[dict[str, Any]] | None,
            created: str, ended: str | None) -> dict[str, Any] | None:
    """Budget use: activity attempts and sub-orchestrations scheduled (from the history; a retried activity
    counts each attempt) against the policy's ``max_activities``, and the runtime so far against
    ``max_runtime_s``; None before the policy applied."""
    limits = None
    for record in audit_records:
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        decision = data.get("decision") if isinstance(data.get("decision"), dict) else None
        if record.get("kind") == "stage" and data.get("stage") == "classified" and decision:
            limits = decision.get("budgets")
    if not isinstance(limits, dict):
        return None
    used = sum(1 for e in history or [] if e.get("EventType") in _STEP_EVENTS)
    from triggers.console_views import parse_time

    start = parse_time(created)
    end = parse_time(ended) or datetime.now(UTC)
    seconds = int((end - start).total_seconds()) if start else 0
    return {"used_activities": used if history is not None else "?",
            "max_activities": limits.get("max_activities"),
            "runtime": _duration(seconds), "max_runtime": _duration(int(limits.get("max_runtime_s") or 0))}


def _duration(seconds: int) -> str:
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes} min" if hours else (f"{minutes} min {secs} s" if minutes else f"{secs} s")


def retrying(history: list[dict[str, Any]] | None) -> dict[str, str] | None:
    """The activity currently being retried (its last attempt failed and no later attempt finished), with
    the failure reason; None when nothing is retrying."""
    if not history:
        return None
    last_failed: dict[str, Any] | None = None
    for event in history:
        kind = event.get("EventType")
        if kind == "TaskFailed":
            last_failed = event
        elif last_failed is not None and (
            kind == "ExecutionCompleted"
            or (kind == "TaskCompleted" and event.get("FunctionName") == last_failed.get("FunctionName"))
        ):
            last_failed = None
    if last_failed is None:
        return None
    reason = str(last_failed.get("Reason") or last_failed.get("Details") or "failed").splitlines()[0][:300]
    return {"name": str(last_failed.get("FunctionName") or "activity"), "reason": reason}


def decision_rows(audit_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decisions from the audit records (``triggers.audit_view.full_records``): each accepted and refused
    one, and each submitted one the tier has not ruled on yet, with ``when`` and a ``result`` text."""
    def nonce(record: dict[str, Any]) -> Any:
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        raw = data.get("raw") if isinstance(data.get("raw"), dict) else data
        return raw.get("nonce")

    settled = {nonce(r) for r in audit_records if r.get("kind") in ("decision", "decision_refused")}
    rows = []
    for record in audit_records:
        kind = record.get("kind")
        if kind not in ("decision", "decision_refused", "decision_submitted"):
            continue
        if kind == "decision_submitted" and nonce(record) in settled - {None}:
            continue  # the tier's verdict on it is listed instead
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        raw = data.get("raw") if isinstance(data.get("raw"), dict) else data
        result = {"decision": "accepted", "decision_submitted": "submitted to the tier"}.get(
            str(kind), f"refused: {record.get('refusedBecause') or data.get('reason') or 'refused'}")
        rows.append({**record, "when": raw.get("at") or record.get("at"), "result": result})
    return rows


def effect_rows(audit_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Side effects from the audit records: tool, action, idempotency key, attempts, status, result."""
    rows = []
    for record in audit_records:
        if record.get("kind") != "side_effect":
            continue
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        rows.append({"tool": data.get("tool"), "action": data.get("action"), "key": result.get("key"),
                     "attempts": result.get("attempts"), "status": result.get("status"),
                     "replayed": result.get("replayed"), "result": result.get("result")})
    return rows


def why_not_deciding(principal: Principal, requester: str | None, stage: str, approved_by: list[str],
                     roles: list[str]) -> str:
    """Why the decision form is not shown to ``principal`` (a sentence)."""
    if requester and same_identity(principal.name, requester):
        return "You requested this case, so someone else decides it (separation of duties)."
    if stage != "awaiting_approval":
        return f"This case is not waiting for a decision (stage: {stage})."
    if any(same_identity(principal.name, a) for a in approved_by):
        return "You have already approved this case; it is waiting on others."
    return f"Only a person with the role {' or '.join(roles) or '—'} decides this tier."
