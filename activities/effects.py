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
them out with its infrastructure retry budget, orchestrations/run_state.py); anything else unexpected is a bug
and fails the instance after the business retries.

Inputs and outputs are typed (``shared/contracts/effects.py``); each runs in ``@case_step``
(``activities/step.py``): input validated at entry, span ``case.<activity name>`` with the run-schema
attributes, ``storage_faults`` around the body, one run-schema log line, the output's JSON returned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from activities.step import CASE_LOGGER, Step, case_step
from shared import audit, ledger
from shared.adapters import AdapterError, TransientAdapterError, get_adapter, idempotency_key
from shared.apply_plan import plan_action
from shared.case_errors import ApplyRefused
from shared.contracts.effects import (
    ApplyInput,
    ApplyResult,
    AuditAppended,
    Notified,
    NotifyInput,
    RecordAuditInput,
)
from shared.links import DECISION_KINDS, decision_page_url
from shared.settings import AppSettings
from shared.storage import ensure_queue
from shared.telemetry import RunFields, log_step

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
@case_step("record_audit", RecordAuditInput, done="audited", storage=True)
def record_audit(payload: RecordAuditInput, step: Step) -> AuditAppended:
    """Append ``records`` (:class:`RecordAuditInput`) to the case's trail as one batch
    (``shared.audit.append_many``: one blob; one upload, plus a listing when this process did not write the
    trail's last blob); returns :class:`AuditAppended` (``{"appended": n, "last_hash": ...}``). Idempotent
    per record id."""
    batch = [audit.NewRecord(r.record_id, r.kind, r.data, r.at) for r in payload.records]
    appended = audit.append_many(AppSettings.current(), payload.case_instance_id, payload.event_id, batch)
    step.note(records=len(payload.records))
    last = appended[-1] if appended else None
    return AuditAppended(appended=len(payload.records), last_hash=last.hash if last else None)


@bp.activity_trigger(input_name="payload")
@case_step("notify", NotifyInput, done="notified", storage=True, audit_beside=True)
def notify(payload: NotifyInput, step: Step) -> Notified:
    """Send one notification (:class:`NotifyInput`: approval_requested | approval_escalated |
    approval_reminder | case_completed | case_rejected | case_expired | case_failed) as a JSON queue
    message, its input (without the ``audit`` records riding with it) plus ``notification_id`` (with
    ``once`` at most once per notification id, through the ledger); requests to decide carry
    ``decision_url``, the case's decision page (``shared.links``).
    Returns :class:`Notified` (``{"queue", "notification_id"}``).

    The audit records riding in the input are appended while the message is sent (``audit_beside``): a
    case ending's message may reach its queue a few milliseconds before its record reaches the trail (both
    are there when the step completes, before the case does); a request to decide is sent only once its
    records are on the trail, so nobody decides a case whose trail does not show the request yet."""
    settings = AppSettings.current()
    # the audit records riding with the step are the trail's (brief, filled by @case_step), not the reader's
    notice = {k: v for k, v in payload.to_json().items() if k != "audit"}
    message: dict[str, Any] = {"notification_id": payload.notification_id, **notice}
    if payload.kind in DECISION_KINDS:  # a link to the page, never a power: a GET decides nothing
        message["decision_url"] = decision_page_url(payload.case_id)
        step.audited()

    def send() -> dict[str, Any]:
        queue = ensure_queue(settings, settings.notifications_queue)
        queue.send_message(json.dumps(message, sort_keys=True))
        return {"sent": True}

    if payload.once:  # reminders: at most once per key, recorded in the ledger
        ledger.apply_once(settings, payload.notification_id, send)
    else:
        send()
    step.note(kind=payload.kind, notification_id=payload.notification_id)
    return Notified(queue=settings.notifications_queue, notification_id=payload.notification_id)


def _refused(exc: Exception, payload: ApplyInput, fields: RunFields) -> ApplyResult | None:
    """The refusal :func:`apply_action` returns for ``ApplyRefused``, a result too large to record or a
    permanent adapter error (logged as ``apply_refused``); None (raise) for anything else."""
    if isinstance(exc, TransientAdapterError) or not isinstance(
        exc, ApplyRefused | ledger.LedgerResultTooLarge | AdapterError
    ):
        return None
    terms = payload.acting
    key = idempotency_key(payload.event.source, payload.event.event_id, terms.action)
    reason = f"{type(exc).__name__}: {exc}"
    refused = RunFields(run_id=fields.run_id, event_id=fields.event_id, tool=terms.tool)
    log_step(CASE_LOGGER, "apply_refused", refused, reason=reason)
    return ApplyResult(
        key=key, status="refused", permanent=True, reason=reason, error=reason,
        replayed=False, attempts=0, result=None,
    )


@bp.activity_trigger(input_name="payload")
@case_step("apply_action", ApplyInput, done="applied", storage=True, recover=_refused, audit_beside=True)
def apply_action(payload: ApplyInput, step: Step) -> ApplyResult:
    """Apply the case's action exactly once.

    Input :class:`ApplyInput` (the decision whole or its terms, :attr:`ApplyInput.acting`; ``at``: the
    orchestration's time of this attempt; the ledger's claim time and busy grace use it, so the grace runs
    on the clock of the retry timers). Refuses what the policy and
    approval do not allow, then runs the adapter through the ledger with the event's key; a repeated call
    (same event, any instance) returns the recorded result. Returns :class:`ApplyResult`: ``applied`` or
    ``refused`` (with ``reason``) for ``ApplyRefused``, a permanent adapter error (4xx, malformed request,
    unknown tool) or a result too large to record.

    The audit records riding in the input are appended while the plan is checked and the key claimed
    (``audit_beside``); the adapter runs only once they are on the trail (the ledger's ``before``): when the
    append fails, the claim is released, nothing is sent and the step fails with the append's error.

    Raises ``StorageUnavailable``, ``LedgerBusy``, ``TransientAdapterError`` (all transient: retried by the
    orchestrator) or anything unexpected (a bug).
    """
    settings = AppSettings.current()
    case_id, event, decision = payload.case_instance_id, payload.event, payload.acting
    # known before the plan, so a refused apply's span carries them
    step.learn(
        tool=decision.tool,
        risk_class=decision.risk_class,
        approval_required=decision.approval_rule != "none",
        decision=payload.mode,
    )
    request = plan_action(case_id, event, decision, payload.mode, payload.approval)
    key = idempotency_key(event.source, event.event_id, decision.action)
    adapter = get_adapter(request.tool, settings)
    at = payload.at or datetime.now(UTC)
    entry = ledger.apply_once(
        settings, key, lambda: adapter.apply(request, key, settings), now=lambda: at, instance_id=case_id,
        before=step.audited,
    )
    step.attribute("case.replayed", entry.replayed)
    step.note(key=key, replayed=entry.replayed)
    return ApplyResult(
        key=key, status=entry.status, replayed=entry.replayed, attempts=entry.attempts, result=entry.result
    )
