"""``@case_step``: the one wrapper every activity runs in (input model, span, run fields, log line, output).

Each activity body is a plain function ``body(inp, step, **bindings)`` of its validated input model that
returns its output model; the decorator supplies what every step repeats (``shared.telemetry``):

1. the span ``case.<span name>`` with the run-schema attributes known from the raw input (run id = the
   case instance id, the event id), a child of the case's ingress span when the input carries its
   ``trace_context``;
2. the input validated with the step's model (:meth:`shared.contracts.steps.StepModel.from_input`: a bad
   input raises ``StepInputError`` inside the span, so the span shows it);
3. the audit records the input carries (``audit``: the case's records flushed with this step, orchestrator
   version 2 on) appended to the case's trail before the body (after it, with the records the body adds,
   for ``audit_after_body``) (``shared.audit.append_many``, idempotent per
   record id, so a retried step appends nothing twice; a failure of storage is ``StorageUnavailable``,
   transient, and the body does not run: audit first, then the step's effect); for ``audit_beside``, on a
   worker thread while the body runs, the body waiting for it (:meth:`Step.audited`) before its effect:
   the append and the body's own reads or claims overlap instead of following each other (issue 15), and
   the step fails with the append's error when the append fails, whatever the body did;
   optionally ``shared.storage.storage_faults`` around the body (transient storage errors become
   ``StorageUnavailable``);
4. after the body: ``latency_ms`` (since the activity started, milliseconds), the final run fields on the
   span, and one run-schema log line ``done`` with what the body noted (:meth:`Step.note`);
5. the output model's JSON (``to_json()``) as the return value: only JSON crosses the durable boundary.

An exception leaving the body marks the span ERROR (``shared.telemetry.span``) and propagates, unless the
step's ``recover`` turns it into an output (``apply_action``'s refusals: a business outcome). The wrapper
keeps the Functions signature the worker indexes: ``payload`` (the activity trigger) plus the body's other
bindings (e.g. ``client`` for ``durable_client_input``), sync or ``async`` like the body.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any

from opentelemetry import trace

from shared import audit
from shared.contracts.steps import AuditRecordIn, StepInput, StepModel
from shared.settings import AppSettings
from shared.storage import storage_faults
from shared.telemetry import RunFields, elapsed_ms, log_step, set_run_fields, span

#: The logger of the case activities' run-schema lines.
CASE_LOGGER = logging.getLogger("case_workflow.activities")
#: Threads appending a step's riding audit records beside its body (``case_step(audit_beside=True)``). An
#: append only waits on storage, so a few threads serve every activity thread of the process; a busy pool
#: queues the append (its step waits for it), it never fails it.
_AUDIT_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="case-audit")


def case_fields(payload: Any) -> RunFields:
    """Run fields known from a raw case-step input before validation: ``run_id`` = ``case_instance_id`` (or
    the pending request's, for a notification; ``?`` when absent), ``event_id`` from ``event`` or
    ``event_id`` (None when neither: inputs of older orchestrators)."""
    raw = payload if isinstance(payload, dict) else {}
    request = raw.get("request") if isinstance(raw.get("request"), dict) else {}
    event = raw.get("event") if isinstance(raw.get("event"), dict) else {}
    run_id = raw.get("case_instance_id") or request.get("case_instance_id") or "?"
    event_id = event.get("event_id") or raw.get("event_id")
    return RunFields(run_id=str(run_id), event_id=str(event_id) if event_id is not None else None)


class Step:
    """What a step body tells the wrapper: run fields it learns (:meth:`learn`), span attributes
    (:meth:`attribute`) and the extras of its log line (:meth:`note`). ``fields`` is the current
    :class:`RunFields`; ``span`` the step's span."""

    def __init__(self, current: trace.Span, fields: RunFields) -> None:
        self.span = current
        self.fields = fields
        self.extra: dict[str, Any] = {}
        #: Audit records the body adds (:meth:`record`), appended after it.
        self.records: list[AuditRecordIn] = []
        #: The append of the input's records running beside the body (``audit_beside``), if any.
        self._audit: Future[None] | None = None

    def audited(self) -> None:
        """Return once the audit records the step's input carries are on the case's trail; a step appending
        them beside its body (``case_step(audit_beside=True)``) calls this before its effect. Raises the
        append's error (``StorageUnavailable`` when storage failed) every time it is called; returns at
        once when nothing is pending (the records were appended before the body, or there were none)."""
        if self._audit is not None:
            self._audit.result()

    def record(self, record: AuditRecordIn) -> None:
        """Append ``record`` to the case's trail when the body has returned (with the input's ``audit``
        records when the step appends those after its body: ``case_step(audit_after_body=True)``)."""
        self.records.append(record)

    def learn(self, **changes: Any) -> None:
        """Add run fields (``tool``, ``risk_class``, …) and set them on the span at once (so a failure
        later in the step leaves them on the error span)."""
        self.fields = self.fields.with_(**changes)
        set_run_fields(self.span, self.fields)

    def attribute(self, name: str, value: Any) -> None:
        """Set one extra span attribute (e.g. ``case.replayed``)."""
        self.span.set_attribute(name, value)

    def note(self, **extra: Any) -> None:
        """Extras of the step's log line (JSON values; never a secret, a prompt or an answer)."""
        self.extra.update(extra)

    @contextmanager
    def part(self, span_name: str, done: str, logger: logging.Logger = CASE_LOGGER) -> Iterator[Step]:
        """One part of this step with its own observability, as if it were a step of its own: a child span
        ``case.<span_name>`` of the current span (this step's; on a worker thread, run it in a copy of the
        step's ``contextvars`` context) starting from this step's run fields, and on success one
        run-schema log line ``done`` with ``latency_ms`` and what the part noted. Yields the part's
        :class:`Step` (its ``learn``/``note`` stay its own). An exception marks the part's span ERROR and
        propagates (``assess_case``: the three specialists, each span and line as its ``assess_*`` had)."""
        started = time.perf_counter()
        with span(span_name, self.fields) as current:
            part = Step(current, self.fields)
            yield part
            part.fields = part.fields.with_(latency_ms=elapsed_ms(started))
            set_run_fields(current, part.fields)
            log_step(logger, done, part.fields, **part.extra)


Recover = Callable[[Exception, Any, RunFields], StepModel | None]


def append_audit(records: list[AuditRecordIn], step: Step, where: str) -> None:
    """Append ``records`` to the trail of the case ``step`` runs for (its run id and event id), as one
    batch; nothing when empty. Transient storage errors raise ``StorageUnavailable`` naming ``where``; a
    record id already on the trail is not appended again."""
    if not records:
        return
    if step.fields.run_id == "?" or step.fields.event_id is None:
        raise ValueError(f"{where}: audit records need the case instance id and the event id in the input")
    batch = [audit.NewRecord(r.record_id, r.kind, r.data, r.at) for r in records]
    with storage_faults(where):
        audit.append_many(AppSettings.current(), step.fields.run_id, step.fields.event_id, batch)
    step.note(audit_records=len(batch))


def case_step(
    span_name: str,
    model: type[StepInput],
    *,
    done: str,
    storage: bool = False,
    fields: Callable[[Any], RunFields] = case_fields,
    logger: logging.Logger = CASE_LOGGER,
    recover: Recover | None = None,
    observed: bool = True,
    audit_after_body: bool = False,
    audit_beside: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an activity body (module docstring). ``span_name``: the span is ``case.<span_name>``;
    ``model``: the input model; ``done``: the step name of the log line written on success; ``storage``:
    wrap the body in ``storage_faults(span_name)``; ``fields``: the run fields of a raw input;
    ``recover(exc, inp, fields)``: an output for an exception of the body (``inp`` the validated input),
    or None to let it propagate; ``observed=False``: no span and no log line (a step outside the case's
    trace: only validation and the output JSON); ``audit_after_body``: the input's ``audit`` records are
    appended after the body, in one batch with those it adds (a step without effects that records what it
    computed: ``decide_policy``); ``audit_beside``: the input's ``audit`` records are appended on a worker
    thread while the body runs; the body calls :meth:`Step.audited` before its effect, and the step ends
    (returns, or raises the append's error before anything the body raised) only once the append did
    (sync bodies only). Use below ``@bp.activity_trigger(input_name="payload")``."""
    if audit_beside and audit_after_body:
        raise ValueError("case_step: audit_beside and audit_after_body exclude each other")

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        activity = body.__name__
        if audit_beside and inspect.iscoroutinefunction(body):
            raise TypeError(f"case_step({span_name!r}): audit_beside needs a sync body")
        bindings = [
            p.replace(annotation=inspect.Parameter.empty)
            for p in list(inspect.signature(body).parameters.values())[2:]
        ]

        def opened(payload: Any) -> Any:
            if not observed:
                return nullcontext(trace.INVALID_SPAN)
            return span(span_name, fields(payload), carrier=payload)

        def finish(step: Step, started: float) -> None:
            step.fields = step.fields.with_(latency_ms=elapsed_ms(started))
            set_run_fields(step.span, step.fields)
            if observed:
                log_step(logger, done, step.fields, **step.extra)

        def recovered(exc: Exception, inp: StepInput | None, step: Step | None) -> dict[str, Any]:
            output = None
            if recover is not None and inp is not None and step is not None:
                output = recover(exc, inp, step.fields)
            if output is None:
                raise exc
            return output.to_json()

        @contextmanager
        def around(payload: Any, at: dict[str, Any]) -> Iterator[StepInput]:
            """The step around the body: span, storage faults, validation, the audit appends, the
            success line. ``at`` receives ``step`` and ``inp`` as they come, for ``recovered``."""
            started = time.perf_counter()
            with opened(payload) as current, storage_faults(span_name) if storage else nullcontext():
                step = at["step"] = Step(current, fields(payload))
                inp = at["inp"] = model.from_input(payload, activity)
                body = inp.to_json() if inp.audit else {}  # once, not per riding record
                riding = [r.filled(body) for r in inp.audit or []]
                if audit_beside and riding:
                    context = contextvars.copy_context()  # the step's span and storage call site
                    step._audit = _AUDIT_POOL.submit(context.run, append_audit, riding, step, span_name)
                else:
                    append_audit([] if audit_after_body else riding, step, span_name)
                try:
                    yield inp
                except Exception:
                    step.audited()  # a failed append fails the step (transient), whatever the body raised
                    raise
                step.audited()
                append_audit([*(riding if audit_after_body else []), *step.records], step, span_name)
                finish(step, started)

        if inspect.iscoroutinefunction(body):

            async def run_async(payload: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
                at: dict[str, Any] = {}
                try:
                    with around(payload, at) as inp:
                        output = await body(inp, at["step"], *args, **kwargs)
                except Exception as exc:
                    return recovered(exc, at.get("inp"), at.get("step"))
                return output.to_json()

            wrapper: Callable[..., Any] = run_async
        else:

            def run(payload: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
                at: dict[str, Any] = {}
                try:
                    with around(payload, at) as inp:
                        output = body(inp, at["step"], *args, **kwargs)
                except Exception as exc:
                    return recovered(exc, at.get("inp"), at.get("step"))
                return output.to_json()

            wrapper = run
        wrapper.__name__ = wrapper.__qualname__ = activity
        wrapper.__doc__ = body.__doc__
        wrapper.__module__ = body.__module__
        payload = inspect.Parameter(
            "payload", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dict[str, Any]
        )
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [payload, *bindings], return_annotation=dict[str, Any]
        )
        wrapper.__annotations__ = {"payload": dict[str, Any], "return": dict[str, Any]}
        return wrapper

    return decorate
