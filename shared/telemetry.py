"""The run telemetry schema in one place: :class:`RunFields`, one JSON log line per step, an optional span.

Fields follow the design brief's "minimum schema for each run" (run_id, workflow, the event id, tool name,
tool risk class, approval required, approval decision, cost estimate, latency ms). Every step logs one line
``{"schema": "case.run/1", "step": ..., <RunFields>, <extra>}`` through the standard ``logging`` module (the
Functions host forwards it to Application Insights) and runs inside an OpenTelemetry span ``case.<step>``
(:func:`span`) whose attributes are the set fields named ``case.<field>`` (:meth:`RunFields.as_attributes`),
so a run's spans are found by ``case.run_id`` (the durable instance id).

Only the OpenTelemetry *API* is used here: no SDK, no exporter. The composition root (``function_app.py``,
via ``shared/telemetry_export.py``) configures the exporters; tests inject their own provider with
:func:`use_tracer_provider` instead of setting the process-wide one.

One trace per case: the ingress span ``case.start`` puts its W3C trace context (``traceparent``,
``tracestate``; https://www.w3.org/TR/trace-context/) into the case input under ``trace_context``
(:func:`inject_trace_context`); the orchestrator reads it from its input (deterministic) and adds it to every
activity input (:func:`with_trace_context`); each activity's span names it as ``carrier`` and becomes a child
of the ingress span. Orchestrators create no spans and log only when ``not context.is_replaying``, so replays
emit nothing. Every run record also feeds the metrics (``shared/metrics.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared import metrics

SCHEMA = "case.run/1"
SPAN_PREFIX = "case."
TRACER_NAME = "case-workflow"

#: Key of the W3C trace context in the case input and in activity inputs.
TRACE_KEY = "trace_context"

_tracer_provider: trace.TracerProvider | None = None
_propagator = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class RunFields:
    """The run schema. ``run_id`` is the durable instance id; ``latency_ms`` in milliseconds;
    ``cost_estimate`` in the currency-free unit the judgment reports (0 for rules); ``tokens`` the model's
    input + output tokens; ``judgment_source`` ``agent`` | ``rules`` | ``rules-fallback`` (judgment steps and
    the case totals); unset fields are None."""

    run_id: str
    workflow: str = "case_workflow"
    event_id: str | None = None
    tool: str | None = None
    risk_class: str | None = None
    approval_required: bool | None = None
    decision: str | None = None
    latency_ms: float | None = None
    cost_estimate: float | None = None
    tokens: int | None = None
    judgment_source: str | None = None

    def with_(self, **changes: Any) -> RunFields:
        """A copy with ``changes`` applied (fields as above)."""
        return replace(self, **changes)

    def as_attributes(self) -> dict[str, str | bool | float]:
        """The set fields as span attributes named ``case.<field>`` (None values left out)."""
        return {SPAN_PREFIX + k: v for k, v in asdict(self).items() if v is not None}


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), to 0.1 ms (``latency_ms``)."""
    return round((time.perf_counter() - started) * 1000, 1)


def step_record(step: str, fields: RunFields, **extra: Any) -> dict[str, Any]:
    """The dict :func:`log_step` writes: schema, step, every RunFields field (None included), then
    ``extra``."""
    record: dict[str, Any] = {"schema": SCHEMA, "step": step, **asdict(fields)}
    for key, value in extra.items():
        record.setdefault(key, value)
    return record


def log_step(
    logger: logging.Logger, step: str, fields: RunFields, *, level: int = logging.INFO, **extra: Any
) -> None:
    """Emit one structured JSON log line for ``step`` (e.g. ``classified``, ``applied``).

    ``extra`` adds JSON-serializable keys (non-JSON values are stringified); it never overrides schema fields.
    Never pass secrets in ``extra``.
    """
    if logger.isEnabledFor(level):  # the record is not built for a line nobody keeps; metrics always
        logger.log(level, json.dumps(step_record(step, fields, **extra), default=str, sort_keys=True))
    metrics.record_step(step, fields, extra)


def use_tracer_provider(provider: trace.TracerProvider | None) -> trace.TracerProvider | None:
    """Make :func:`span` use ``provider`` instead of the process-wide one (``None`` restores the global);
    returns the provider used before, so a test fixture can put it back. Not for production code: there the
    composition root sets the global provider (``configure_azure_monitor``)."""
    global _tracer_provider
    previous, _tracer_provider = _tracer_provider, provider
    return previous


def set_run_fields(current: trace.Span, fields: RunFields) -> None:
    """Set (or overwrite) the span attributes ``case.<field>`` of the set ``fields`` on ``current``; a step
    calls it as it learns more (tool, risk class, decision, latency_ms)."""
    current.set_attributes(fields.as_attributes())
    holder = _span_fields.get(id(current))
    if holder is not None:
        holder[0] = fields


_span_fields: dict[int, list[RunFields]] = {}


def inject_trace_context(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` plus ``trace_context`` = the current span's W3C context (``{"traceparent": ...}``, plus
    ``tracestate`` when set); unchanged (same keys) when no span is recording. Call inside the ingress
    span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {**payload, TRACE_KEY: carrier} if carrier.get("traceparent") else dict(payload)


def trace_context_of(value: Any) -> dict[str, str] | None:
    """The ``trace_context`` of a case or activity input (a dict of strings), or None."""
    found = value.get(TRACE_KEY) if isinstance(value, dict) else None
    if isinstance(found, dict) and isinstance(found.get("traceparent"), str):
        return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}
    return None


def without_trace_context(value: Any) -> Any:
    """A case input without its ``trace_context`` (what the event contract validates); others unchanged."""
    if isinstance(value, dict) and TRACE_KEY in value:
        return {k: v for k, v in value.items() if k != TRACE_KEY}
    return value


def with_trace_context(payload: Any, trace_context: dict[str, str] | None) -> Any:
    """An activity input carrying ``trace_context`` (dict inputs only; None leaves it unchanged).
    Deterministic: for orchestrators."""
    if trace_context and isinstance(payload, dict):
        return {**payload, TRACE_KEY: trace_context}
    return payload


@contextmanager
def span(step: str, fields: RunFields, carrier: Any = None) -> Iterator[trace.Span]:
    """An OpenTelemetry span ``case.<step>`` (e.g. ``case.classify``) carrying ``fields`` as ``case.*``
    attributes, current for the ``with`` body. ``carrier`` is the step's input: when it holds a
    ``trace_context`` (:func:`with_trace_context`) the span is a child of that remote context (the case's
    ingress span), else of the current context.

    An exception leaving the body is recorded on the span as an ``exception`` event, the span status is set
    to ERROR (``"<ExceptionType>: <message>"``), and the exception propagates unchanged (behaviour of
    ``opentelemetry.trace.use_span``). Without a configured SDK the API returns a no-op span, so this costs
    nearly nothing. Never call it in an orchestrator (replays would repeat the span).
    """
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=_tracer_provider)
    remote = trace_context_of(carrier)
    parent = _propagator.extract(remote) if remote else otel_context.get_current()
    with tracer.start_as_current_span(
        SPAN_PREFIX + step,
        context=parent,
        attributes=fields.as_attributes(),
        record_exception=True,
        set_status_on_exception=True,
    ) as current:
        holder = [fields]
        _span_fields[id(current)] = holder
        try:
            yield current
        except BaseException:
            metrics.record_step_failure(step, holder[0])
            raise
        finally:
            _span_fields.pop(id(current), None)
