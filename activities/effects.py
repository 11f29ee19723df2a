"""Activities with effects outside the task hub: append audit records, send notifications, apply the action.

- ``record_audit``: appends records to the case's hash-chained trail (``shared.audit``) with the record ids
  and times the orchestrator chose, so retries and replays never duplicate a record.
- ``notify``: one queue message to the notifications queue (app setting ``CASE_NOTIFICATIONS_QUEUE``);
  at-least-once, each message carries a deterministic ``notification_id`` for consumers to deduplicate.
- ``apply_action``: the single policy-checked path to a side effect (``shared.apply_plan.plan_action``),
  exactly once through the ledger (``shared.ledger.apply_once``) with the key derived from the business
  event (``shared.adapters.idempotency_key``: source + event id + action). A refusal (the plan refuses, the
  downstream refuses with a 4xx, the request is malformed) is *returned* (``status: "refused"``), a business
  outcome the orchestrator closes the case with, never retried.

Failures of storage are raised as ``shared.storage.StorageUnavailable`` (transient: the orchestrator rides
them out with its infrastructure retry budget, orchestrations/case_run.py); anything else unexpected is a bug
and fails the instance after the business retries.

Each runs in a span ``case.<activity name>`` with the run-schema attributes (``shared.telemetry.span``).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from shared import audit, ledger
from shared.adapters import AdapterError, TransientAdapterError, get_adapter, idempotency_key
from shared.apply_plan import plan_action
from shared.case_errors import ApplyRefused
from shared.contracts.case import ApprovalOutcome, PolicyDecision
from shared.contracts.event import BusinessEvent
from shared.links import DECISION_KINDS, decision_page_url
from shared.settings import AppSettings
from shared.storage import ensure_queue, storage_faults
from shared.telemetry import RunFields, elapsed_ms, log_step, set_run_fields, span

logger = logging.getLogger("case_workflow.activities")

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
def record_audit(payload: dict[str, Any]) -> dict[str, Any]:
    """Append ``payload["records"]`` (``[{record_id, kind, data, at}]``) to the trail of
    ``payload["case_instance_id"]`` as one batch (``shared.audit.append_many``: one blob; one upload, plus
    a listing when this process did not write the trail's last blob); returns ``{"appended": n,
    "last_hash": ...}``. Idempotent per record id."""
    started = time.perf_counter()
    fields = RunFields(run_id=str(payload.get("case_instance_id") or "?"), event_id=payload.get("event_id"))
    with span("record_audit", fields, carrier=payload) as current, storage_faults("record_audit"):
        settings = AppSettings.current()
        case_id, event_id = payload["case_instance_id"], payload["event_id"]
        batch = [
            audit.NewRecord(r["record_id"], r["kind"], r["data"], datetime.fromisoformat(r["at"]))
            for r in payload["records"]
        ]
        appended = audit.append_many(settings, case_id, event_id, batch)  # one listing for the batch
        last = appended[-1] if appended else None
        fields = fields.with_(latency_ms=elapsed_ms(started))
        set_run_fields(current, fields)
        log_step(logger, "audited", fields, records=len(payload["records"]))
    return {"appended": len(payload["records"]), "last_hash": last.hash if last else None}


def notification_id(payload: dict[str, Any]) -> str:
    """Deterministic id of a notification: ``{case}:{kind}[:{tier}]`` (consumers deduplicate on it)."""
    request = payload.get("request") or {}
    case_id = payload.get("case_instance_id") or request.get("case_instance_id") or "?"
    tier = request.get("tier")
    return f"{case_id}:{payload['kind']}" + (f":{tier}" if tier is not None else "")


@bp.activity_trigger(input_name="payload")
def notify(payload: dict[str, Any]) -> dict[str, Any]:
    """Send one notification (``{"kind", "event_id", ...}``: approval_requested | approval_escalated |
    approval_reminder | case_completed | case_rejected | case_expired | case_failed) as a JSON queue
    message (with ``"once": true`` at most once per notification id, through the ledger); requests to
    decide carry ``decision_url``, the case's decision page (``shared.links``). ``event_id``
    labels the log line and span (None when an older orchestrator left it out).
    Returns ``{"queue", "notification_id"}``."""
    started = time.perf_counter()
    case_id = str(payload.get("case_instance_id") or (payload.get("request") or {}).get("case_instance_id"))
    fields = RunFields(run_id=case_id, event_id=payload.get("event_id"))
    with span("notify", fields, carrier=payload) as current, storage_faults("notify"):
        settings = AppSettings.current()
        message = {"notification_id": notification_id(payload), **payload}
        if payload.get("kind") in DECISION_KINDS:  # a link to the page, never a power: a GET decides nothing
            message["decision_url"] = decision_page_url(case_id)

        def send() -> dict[str, Any]:
            queue = ensure_queue(settings, settings.notifications_queue)
            queue.send_message(json.dumps(message, sort_keys=True))
            return {"sent": True}

        if payload.get("once"):  # reminders: at most once per key, recorded in the ledger
            ledger.apply_once(settings, message["notification_id"], send)
        else:
            send()
        fields = fields.with_(latency_ms=elapsed_ms(started))
        set_run_fields(current, fields)
        log_step(
            logger,
            "notified",
            fields,
            kind=payload["kind"],
            notification_id=message["notification_id"],
        )
    return {"queue": settings.notifications_queue, "notification_id": message["notification_id"]}


@bp.activity_trigger(input_name="payload")
def apply_action(payload: dict[str, Any]) -> dict[str, Any]:
    """Apply the case's action exactly once.

    Input ``{case_instance_id, event, decision, mode: auto|approved|rejected|expired, approval, at?}``
    (``at``: the orchestration's time of this attempt, ISO UTC; the ledger's claim time and busy grace use
    it, so the grace runs on the clock of the retry timers). Refuses what the policy and approval do not
    allow, then runs the adapter through the ledger with the event's key; a repeated call (same event, any
    instance) returns the recorded result. Returns ``{"key", "status": "applied" | "refused", "replayed",
    "attempts", "result", "reason"?}``; ``refused`` (with ``reason``) for ``ApplyRefused``, a permanent
    adapter error (4xx, malformed request, unknown tool) or a result too large to record.

    Raises ``StorageUnavailable``, ``LedgerBusy``, ``TransientAdapterError`` (all transient: retried by the
    orchestrator) or anything unexpected (a bug).
    """
    started = time.perf_counter()
    case_id = str(payload.get("case_instance_id") or "?")
    try:
        return _apply_action(payload, started)
    except (ApplyRefused, ledger.LedgerResultTooLarge) as exc:
        return _refused(case_id, payload, exc)
    except AdapterError as exc:
        if isinstance(exc, TransientAdapterError):
            raise
        return _refused(case_id, payload, exc)


def _refused(case_id: str, payload: dict[str, Any], exc: Exception) -> dict[str, Any]:
    decision = payload.get("decision") or {}
    event = payload.get("event") or {}
    key = None
    if decision.get("action") and event.get("source") and event.get("event_id"):
        key = idempotency_key(event["source"], event["event_id"], decision["action"])
    reason = f"{type(exc).__name__}: {exc}"
    fields = RunFields(run_id=case_id, event_id=event.get("event_id"), tool=decision.get("tool"))
    log_step(logger, "apply_refused", fields, reason=reason)
    return {
        "key": key, "status": "refused", "permanent": True, "reason": reason, "error": reason,
        "replayed": False, "attempts": 0, "result": None,
    }


def _apply_action(payload: dict[str, Any], started: float) -> dict[str, Any]:
    run_fields = RunFields(run_id=str(payload.get("case_instance_id") or "?"))
    with (
        span("apply_action", run_fields, carrier=payload) as current,
        storage_faults("apply_action"),
    ):
        settings = AppSettings.current()
        case_id = payload["case_instance_id"]
        event = BusinessEvent.model_validate(payload["event"])
        decision = PolicyDecision.model_validate(payload["decision"])
        fields = RunFields(
            run_id=case_id,
            event_id=event.event_id,
            tool=decision.tool,
            risk_class=decision.risk_class,
            approval_required=decision.approval.rule != "none",
            decision=payload["mode"],
        )
        set_run_fields(current, fields)  # known before the plan, so a refused apply's span carries them
        approval = ApprovalOutcome.model_validate(payload["approval"]) if payload.get("approval") else None
        request = plan_action(case_id, event, decision, payload["mode"], approval)
        key = idempotency_key(event.source, event.event_id, decision.action)
        adapter = get_adapter(request.tool, settings)
        at = datetime.fromisoformat(payload["at"]) if payload.get("at") else datetime.now(UTC)
        entry = ledger.apply_once(
            settings, key, lambda: adapter.apply(request, key, settings), now=lambda: at, instance_id=case_id
        )
        replayed = entry.replayed
        fields = fields.with_(latency_ms=elapsed_ms(started))
        set_run_fields(current, fields)
        current.set_attribute("case.replayed", replayed)
        log_step(logger, "applied", fields, key=key, replayed=replayed)
    return {
        "key": key,
        "status": entry.status,
        "replayed": replayed,
        "attempts": entry.attempts,
        "result": entry.result,
    }
