"""The run telemetry schema in one place: :class:`RunFields`, one JSON log line per step, an optional span.

Fields follow the design brief's "minimum schema for each run" (run_id, workflow, the event id, tool name,
tool risk class, approval required, approval decision, cost estimate, latency ms). Every step logs one line
``{"schema": "case.run/1", "step": ..., <RunFields>, <extra>}`` through the standard ``logging`` module (the
Functions host forwards it to Application Insights); OpenTelemetry export later reuses :data:`SPAN_PREFIX` and
:meth:`RunFields.as_attributes`. No exporter is configured here.

Orchestrators must log only when ``not context.is_replaying`` so a replay does not repeat lines.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

from opentelemetry import trace

SCHEMA = "case.run/1"
SPAN_PREFIX = "case."


@dataclass(frozen=True)
class RunFields:
    """The run schema. ``run_id`` is the durable instance id; ``latency_ms`` in milliseconds;
    ``cost_estimate`` in the currency-free unit the judgment reports (0 for rules); unset fields are None."""

    run_id: str
    workflow: str = "case_workflow"
    event_id: str | None = None
    tool: str | None = None
    risk_class: str | None = None
    approval_required: bool | None = None
    decision: str | None = None
    latency_ms: float | None = None
    cost_estimate: float | None = None

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
    logger.log(level, json.dumps(step_record(step, fields, **extra), default=str, sort_keys=True))


@contextmanager
def span(step: str, fields: RunFields) -> Iterator[trace.Span]:
    """An OpenTelemetry span ``case.<step>`` carrying the run fields as attributes.

    Without a configured SDK/exporter the API returns a no-op span, so this costs nearly nothing.
    """
    tracer = trace.get_tracer("case-workflow")
    with tracer.start_as_current_span(SPAN_PREFIX + step, attributes=fields.as_attributes()) as current:
        yield current
