"""The run schema: one JSON line per step with every RunFields field."""

from __future__ import annotations

import json
import logging

from shared.telemetry import SCHEMA, RunFields, log_step, span


def test_log_step_writes_one_json_line_with_the_schema(caplog):
    """Every schema field is present (None when unset); extras are added; schema fields win over extras."""
    fields = RunFields(
        run_id="case-1",
        event_id="e-1",
        tool="webhook",
        risk_class="privileged",
        approval_required=True,
        decision="approve",
        latency_ms=12.5,
        cost_estimate=0.0,
    )
    logger = logging.getLogger("test.telemetry")

    with caplog.at_level(logging.INFO, logger="test.telemetry"):
        log_step(logger, "applied", fields, attempt=2, run_id="ignored")

    (record,) = caplog.records
    line = json.loads(record.getMessage())
    assert line == {
        "schema": SCHEMA,
        "step": "applied",
        "run_id": "case-1",
        "workflow": "case_workflow",
        "event_id": "e-1",
        "tool": "webhook",
        "risk_class": "privileged",
        "approval_required": True,
        "decision": "approve",
        "latency_ms": 12.5,
        "cost_estimate": 0.0,
        "tokens": None,
        "judgment_source": None,
        "attempt": 2,
    }


def test_with_returns_an_updated_copy():
    """with_ changes fields without touching the original."""
    base = RunFields(run_id="case-1")
    changed = base.with_(tool="noop")

    assert base.tool is None and changed.tool == "noop" and changed.run_id == "case-1"


def test_span_carries_the_fields_as_attributes():
    """The span helper works without an SDK (no-op span) and maps set fields to case.* attributes."""
    fields = RunFields(run_id="case-1", tool="noop")

    with span("classified", fields):
        pass

    assert fields.as_attributes() == {
        "case.run_id": "case-1",
        "case.workflow": "case_workflow",
        "case.tool": "noop",
    }
