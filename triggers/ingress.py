"""Start (or find) the case of a normalized event: the step the HTTP and queue ingress share.

The instance id comes from :func:`shared.contracts.case_instance_id`, so a redelivered event finds the case it
opened before, whatever its runtime status (a finished case is never restarted). Two concurrent first
deliveries race on ``start_new``: the host refuses to start over a Pending/Running instance
(``overridableExistingInstanceStates = NonRunningStates``), the loser's error is caught and the status read
again, so it answers as a redelivery. The step runs in a span ``case.start`` (``case.run_id`` = the
instance id, ``case.redelivered``), the first span of a case: its W3C trace context goes into the case
input (``trace_context``), so every activity span of the case is its child (``shared.telemetry``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from shared.contracts.event import CASE_WORKFLOW, BusinessEvent, case_instance_id
from shared.telemetry import RunFields, elapsed_ms, inject_trace_context, log_step, set_run_fields, span

logger = logging.getLogger("case.ingress")


@dataclass(frozen=True)
class StartResult:
    """``instance_id`` of the event's case; ``redelivered`` True when the case existed before this delivery;
    ``runtime_status`` of the existing case (None for a new one)."""

    instance_id: str
    redelivered: bool
    runtime_status: str | None = None


async def _existing_status(client: Any, instance_id: str) -> str | None:
    status = await client.get_status(instance_id)
    if not status or status.runtime_status is None:
        return None
    runtime = status.runtime_status
    return str(getattr(runtime, "value", runtime))


async def start_case(client: Any, event: BusinessEvent) -> StartResult:
    """Start ``case_workflow`` for ``event`` unless its case exists; ``client`` is the SDK's
    ``DurableOrchestrationClient``. Raises the client's exceptions when the task hub cannot be reached."""
    started = time.perf_counter()
    instance_id = case_instance_id(event)
    fields = RunFields(run_id=instance_id, workflow=CASE_WORKFLOW, event_id=event.event_id)
    with span("start", fields) as current:
        result = await _start_or_find(client, event, instance_id)
        fields = fields.with_(latency_ms=elapsed_ms(started))
        set_run_fields(current, fields)
        current.set_attribute("case.redelivered", result.redelivered)
        log_step(
            logger,
            "redelivered" if result.redelivered else "case_started",
            fields,
            event_type=event.type,
            channel=event.channel,
            format=event.format,
            runtime_status=result.runtime_status,
        )
    return result


async def _start_or_find(client: Any, event: BusinessEvent, instance_id: str) -> StartResult:
    existing = await _existing_status(client, instance_id)
    if existing is None:
        try:
            case_input = inject_trace_context(event.model_dump(mode="json"))
            await client.start_new(CASE_WORKFLOW, instance_id, case_input)
            return StartResult(instance_id, redelivered=False)
        except Exception:
            existing = await _existing_status(client, instance_id)
            if existing is None:
                raise
    return StartResult(instance_id, redelivered=True, runtime_status=existing)
