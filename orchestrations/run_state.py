"""Deterministic bookkeeping of one running case inside the orchestrator: stages, budgets, retries, audit.

:class:`RunState` is the mechanics under :class:`orchestrations.case_run.CaseRun` (whose verbs
``case_workflow`` reads as the business process): it wraps the ``DurableOrchestrationContext``, schedules
and retries steps, keeps the custom status, queues audit records and writes logs. Everything here is
replay-safe: time is ``context.current_utc_datetime``, audit record ids come from a counter replayed
identically, nothing reads settings or does I/O, and logs are written only when the context is not replaying
(docs/durable-extension-protocol.md, replay).

Budgets (seeds 001 "hard limits, not recommendations"): every activity or sub-orchestration scheduled for
the case is charged against ``max_activities`` and the case's age against ``max_runtime_s``; exceeding
either raises :class:`BudgetExceeded`, which stops the case with that reason. The closing steps of a stopped
case (final audit and the requester's notification) are charged to a small reserve instead
(:data:`CLOSING_RESERVE`) so a stopped case is still recorded and reported.

Retries (:meth:`RunState.step`): each step is scheduled without the SDK's retry wrapper and retried here, so
the kind of failure picks the budget (``RetryPolicy``): a transient infrastructure failure
(``shared.case_errors.is_transient_failure``: storage, network, a busy ledger claim, a transient downstream)
is retried with exponential backoff for ``infra_budget_s`` seconds, the case showing stage ``stalled`` after
``max_attempts`` attempts and resuming by itself; any other failure is a bug and is retried ``max_attempts``
times, then raised so the instance fails. Retries are not charged to ``max_activities`` (they have their own
budgets); backoff timers run on the orchestration clock (``current_utc_datetime``), the same clock
``apply_action`` passes to the ledger's busy grace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from orchestrations import names, versions
from orchestrations.recorded_inputs import RecordedInputs
from shared.case_errors import BudgetExceeded, failure_type, is_transient_failure
from shared.contracts.case import Budgets, PolicyDecision, RetryPolicy, Stage
from shared.contracts.effects import RecordAuditInput
from shared.contracts.event import BusinessEvent
from shared.contracts.steps import AuditRecordIn, StepInput
from shared.judgment_budget import JudgmentTally
from shared.stages import FINAL_STAGES, CaseStatusTracker
from shared.telemetry import RunFields, log_step, with_trace_context

logger = logging.getLogger("case_workflow")
#: One human-readable line per stage change (``case.stage``): what a console shows of a case.
stage_logger = logging.getLogger("case.stage")

#: Activities a stopped case may still run beyond ``max_activities`` to record and report its end.
CLOSING_RESERVE = 3


class RunState:
    """One case's run state: ``tracker`` (custom status), budgets, retry policy, pending audit records, the
    run fields of its log lines and its judgment tally. Subclassed by ``CaseRun``; ``case_workflow`` uses
    the verbs there, never these attributes."""

    def __init__(
        self,
        context: df.DurableOrchestrationContext,
        event: BusinessEvent,
        trace_context: dict[str, str] | None = None,
    ) -> None:
        self.context = context
        self.event = event
        #: The major version the instance was started with (``orchestrations/versions.py``).
        self.version = versions.major(context.version)
        #: Audit records riding in the input of the step being scheduled (version 2 on, :meth:`step`).
        self._riding: list[AuditRecordIn] | None = None
        self.case_id: str = context.instance_id
        self.started: datetime = context.current_utc_datetime
        self.tracker = CaseStatusTracker(self.case_id, event, self.started, context.version)
        self.budgets = Budgets()
        self.retry = RetryPolicy()
        self.scheduled = 0
        self.closing = False
        #: Set while closing a failed case: its closing steps get the business attempts only.
        self.best_effort = False
        self._audit_seq = 0
        self._pending_audit: list[AuditRecordIn] = []
        self.fields = RunFields(run_id=self.case_id, event_id=event.event_id)
        #: W3C trace context of the ingress span (case input ``trace_context``), passed to every activity.
        self.trace_context = trace_context
        self.judgment = JudgmentTally()
        self._recorded = RecordedInputs(context)

    # -- time and budgets ---------------------------------------------------------------------------
    def now(self) -> datetime:
        """The orchestrator's deterministic UTC time."""
        return self.context.current_utc_datetime

    @property
    def deadline(self) -> datetime:
        """When the runtime budget runs out (UTC)."""
        return self.started + timedelta(seconds=self.budgets.max_runtime_s)

    def use_decision(self, decision: PolicyDecision) -> None:
        """Adopt the policy decision's budgets and retry policy and describe the case with it."""
        self.budgets = decision.budgets
        self.retry = decision.retry
        self.tracker.describe(policy_version=decision.policy_version, risk_class=decision.risk_class)
        self.fields = self.fields.with_(
            tool=decision.tool,
            risk_class=decision.risk_class,
            approval_required=decision.approval.rule != "none",
        )

    def use_defaults(self, budgets: Budgets, retry: RetryPolicy) -> None:
        """Adopt the policy's default budgets and retry policy (before a decision exists)."""
        self.budgets = budgets
        self.retry = retry

    def _charge(self, what: str) -> None:
        limit = self.budgets.max_activities + (CLOSING_RESERVE if self.closing else 0)
        if self.scheduled + 1 > limit:
            raise BudgetExceeded(
                "max_activities",
                f"budget max_activities={self.budgets.max_activities} exhausted before {what}",
            )
        if not self.closing and self.now() >= self.deadline:
            raise BudgetExceeded(
                "max_runtime_s",
                f"budget max_runtime_s={self.budgets.max_runtime_s} exceeded before {what} "
                f"(case received {self.started.isoformat()})",
            )
        self.scheduled += 1

    # -- scheduling ---------------------------------------------------------------------------------
    def activity(self, name: str, payload: StepInput | Callable[[], StepInput]) -> Any:
        """Schedule activity ``name`` once with the input model's JSON (plus the case's trace context),
        charging the budget; the audit records riding with the step (:meth:`step`) go in its ``audit``.
        ``payload`` may be a function building the input, with no effect on the run: it is not called
        when the history already holds this scheduling (:class:`RecordedInputs`: replay passes the
        recorded input, the same JSON). Returns the task (retries: :meth:`step`)."""
        self._charge(name)
        riding, self._riding = self._riding, None
        recorded = self._recorded.next(name)
        if recorded is not None:
            return self.context.call_activity(name, recorded)
        if callable(payload):
            payload = payload()
        if riding:  # without what the step's own input holds too (AuditRecordIn.brief_for)
            body, lean = payload.to_json(), self.version >= versions.LEAN_INPUTS
            payload = payload.model_copy(update={"audit": [r.brief_for(body, lean=lean) for r in riding]})
        return self.context.call_activity(name, with_trace_context(payload.to_json(), self.trace_context))

    def step(
        self, what: str, make: Callable[[], Any], *, with_audit: bool = False
    ) -> Generator[Any, Any, Any]:
        """Run the task ``make()`` builds until it succeeds, retrying per the policy (module docstring);
        returns its result. ``with_audit``: the queued audit records are flushed with it: in the step's
        own input (``audit``, appended by the activity's ``@case_step`` before, beside or after its body;
        version 2 on), or, for instances of version 1, by a ``record_audit`` activity in parallel with it
        (``task_all``); the result is still the task's own. A ``with_audit`` step schedules one activity.

        ``make`` is called again for every attempt (a task cannot be yielded twice); audit records a
        failed attempt flushed are queued again, once (their ids make the re-flush idempotent; a step that
        flushes nothing leaves the queue as it was: re-queuing there doubled it on every failed attempt).
        Use as ``result = yield from run.step("apply", lambda: ...)``. Raises the last failure (a plain
        ``Exception``) when a budget runs out, :class:`BudgetExceeded` from the charge, and anything
        that is not an activity failure at once (a bug in the orchestrator).
        """
        attempt = 0
        first_failure: datetime | None = None
        resume_stage: str | None = None
        while True:
            attempt += 1
            scheduled, pending = self.scheduled, list(self._pending_audit)
            in_step = with_audit and self.version >= versions.AUDIT_IN_STEP
            if in_step:
                self._riding, self._pending_audit = self._pending_audit, []
            try:
                task = waited = make()
                if with_audit and not in_step:
                    flush = self.flush_audit()
                    waited = self.context.task_all([task] if flush is None else [task, flush])
            except BudgetExceeded:  # nothing was scheduled: the records stay queued for the closing steps
                self._pending_audit = pending
                raise
            finally:
                self._riding = None
            try:
                result = yield waited
            except Exception as exc:
                if type(exc) is not Exception:  # not a failed activity: a bug in this code
                    raise
                now = self.now()
                first_failure = first_failure or now
                self.scheduled = scheduled
                if with_audit:  # what the failed attempt flushed is queued again (a step without the
                    self._pending_audit = pending + self._pending_audit  # flush left its queue alone)
                delay = self._retry_delay(exc, attempt, (now - first_failure).total_seconds())
                if delay is None:
                    raise
                retry_at = now + timedelta(seconds=delay)
                if is_transient_failure(exc) and attempt >= self.retry.max_attempts:
                    resume_stage = resume_stage or self.tracker.stage
                    self._stall(what, exc, first_failure, retry_at, resume_stage)
                self.log(
                    "retrying", at_step=what, attempt=attempt, error=failure_type(exc), retry_at=retry_at
                )
                yield self.context.create_timer(retry_at)
                continue
            if resume_stage is not None:
                self.tracker.resume(resume_stage, self.now())  # type: ignore[arg-type]
                self.publish()
                self.audit("stage", {"stage": resume_stage, "resumed_after": what, "attempts": attempt})
                self.log("resumed", at_step=what, attempts=attempt)
            return task.result if with_audit and not in_step else result

    def _retry_delay(self, exc: Exception, attempt: int, failing_s: float) -> float | None:
        """Seconds until the next attempt, or None when the failure's budget is spent."""
        first = self.retry.first_retry_interval_s
        if not is_transient_failure(exc):
            return first if attempt < self.retry.max_attempts and not self.best_effort else None
        if self.best_effort and attempt >= self.retry.max_attempts:
            return None  # a failed case's closing steps are best effort
        if failing_s >= self.retry.infra_budget_s:
            return None
        return min(first * 2 ** min(attempt - 1, 30), self.retry.infra_max_interval_s)

    def _stall(self, what: str, exc: Exception, since: datetime, retry_at: datetime, resume: str) -> None:
        if self.tracker.stage in FINAL_STAGES:
            return
        first_entry = self.tracker.stage != "stalled"
        reason = f"{failure_type(exc)} in {what}"
        self.tracker.stall(
            self.now(),
            {
                "step": what,
                "reason": reason,
                "since": since.isoformat(),
                "retryAt": retry_at.isoformat(),
                "resumeStage": resume,
            },
        )
        self.publish()
        if first_entry:
            self.audit("stage", {"stage": "stalled", "step": what, "reason": reason, "resume_stage": resume})
            self.log("stalled", at_step=what, reason=reason)

    def sub_orchestrator(self, name: str, payload: Any, instance_id: str) -> Any:
        """Schedule sub-orchestration ``name`` as ``instance_id``, charging the budget. Returns the task."""
        self._charge(name)
        return self.context.call_sub_orchestrator(name, payload, instance_id)

    # -- status and audit ---------------------------------------------------------------------------
    def publish(self) -> None:
        """Send the tracker's status as the custom status (set again every episode by the SDK)."""
        self.context.set_custom_status(self.tracker.to_json())

    def enter(
        self, stage: Stage, *, recorded: bool = False, record_id: str | None = None, **data: Any
    ) -> None:
        """Enter ``stage`` now: timeline, custom status, an audit record (unless a step ``recorded`` it
        already; under ``record_id`` when the case reserved one, see :meth:`audit`) and a log line."""
        self.tracker.enter(stage, self.now())
        self.publish()
        if not recorded:
            self.audit("stage", {"stage": stage, **data}, record_id=record_id)
        self.log(stage)
        self.announce(stage)

    def announce(self, stage: str, detail: str | None = None) -> None:
        """One plain log line ``<case id> <event type>: <stage>[ (detail)]`` on ``case.stage`` (only when
        not replaying), beside the run-schema JSON line: the story of a case on a console."""
        if not self.context.is_replaying:
            stage_logger.info("%s %s: %s%s", self.case_id, self.event.type, stage,
                              f" ({detail})" if detail else "")

    def audit(
        self, kind: str, data: dict[str, Any], *, queue: bool = True, record_id: str | None = None
    ) -> AuditRecordIn:
        """An audit record with a deterministic record id (``{case}:{seq:03d}:{kind}``), at now, queued
        for the next flush; ``queue=False``: only its id is taken, a step appends it (``decide_policy``);
        ``record_id``: an id taken earlier that way and left unused by the step (the record goes under it,
        no new id is taken). Returns the record."""
        if record_id is None:
            self._audit_seq += 1
            record_id = f"{self.case_id}:{self._audit_seq:03d}:{kind}"
        record = AuditRecordIn(record_id=record_id, kind=kind, data=data, at=self.now())
        if queue:
            self._pending_audit.append(record)
        return record

    def flush_audit(self) -> Any | None:
        """Schedule ``record_audit`` for the queued records (None when nothing is queued; version 1)."""
        if not self._pending_audit:
            return None
        records, self._pending_audit = self._pending_audit, []
        batch = RecordAuditInput(case_instance_id=self.case_id, event_id=self.event.event_id, records=records)
        return self.activity(names.RECORD_AUDIT, batch)

    def log(self, step: str, **extra: Any) -> None:
        """A structured run-schema log line (only when not replaying)."""
        if not self.context.is_replaying:
            age_s = (self.now() - self.started).total_seconds()
            log_step(logger, step, self.fields, stage=self.tracker.stage, case_age_s=age_s, **extra)
