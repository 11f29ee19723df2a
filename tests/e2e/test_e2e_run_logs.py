"""Issue 6 scope 7 on a real run: every step writes one run-schema JSON log line (``shared.telemetry``)
that carries the instance id as run_id and the event id as event_id (never null in a case run; the
maintenance run has no event, so its own lines keep event_id null), and the orchestrator's lines are not
repeated by replays."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest

from shared.telemetry import SCHEMA
from tests.e2e.case_harness import plain_event, principal

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def run_lines(caplog: pytest.LogCaptureFixture, run_id: str) -> list[dict[str, Any]]:
    """The run-schema records of ``run_id`` in the captured log, in order."""
    lines = []
    for record in caplog.records:
        text = record.getMessage()
        if text.startswith("{") and f'"schema": "{SCHEMA}"' in text:
            doc = json.loads(text)
            if doc["run_id"] == run_id:
                lines.append(doc)
    return lines


def test_an_approved_case_is_explained_by_its_run_log(app, caplog):
    """A privileged case approved over HTTP: ingress, policy, classification, notification, approval,
    apply and audit steps each log the schema fields; each stage line appears exactly once although the
    orchestrator replays many times."""
    caplog.set_level(logging.INFO)
    case_id = app.client.send(plain_event("log-1", "account.change", requester="alice")).json()["instanceId"]
    app.client.wait_pending(case_id)
    assert app.client.decide(case_id, principal("bob", "approver")).status_code == 202
    assert app.client.wait_stage(case_id, "completed", "failed")["stage"] == "completed"
    app.client.wait_runtime(case_id, "Completed")  # the closing notify and audit run after the stage change

    lines = run_lines(caplog, case_id)
    steps = Counter(line["step"] for line in lines)
    for step in ("case_started", "classified", "policy_decided", "notified", "applied"):
        assert steps[step] >= 1, (step, steps)
    # classify loads the policy (orchestration version 3.0): its line names the policy
    assert steps["policy_loaded"] == 0 and all(
        line.get("policy_version") for line in lines if line["step"] == "classified" and "category" in line
    ), steps
    # audit records ride with decide, notify and apply (versions 2.0, 4.0): their lines count them
    riding = {line["step"]: line.get("audit_records") for line in lines if line.get("audit_records")}
    assert set(riding) == {"policy_decided", "notified", "applied"}, riding  # decide: version 4.0
    for stage in ("received", "classified", "awaiting_approval", "ready_to_apply", "completed"):
        stage_lines = [line for line in lines if line["step"] == stage and line.get("stage") == stage]
        assert len(stage_lines) == 1, (stage, steps)
    schema_keys = {"run_id", "workflow", "event_id", "tool", "risk_class", "approval_required", "decision",
                   "latency_ms", "cost_estimate"}
    assert [line for line in lines if not schema_keys <= set(line)] == []
    # Every step of a case run names its event, classify and notify included (their activity inputs
    # carry event_id). Only the maintenance run's own steps (run_id = the maintenance instance) have no event.
    without_event = [(line["step"], line["event_id"]) for line in lines if line["event_id"] != "log-1"]
    assert without_event == [], without_event
    assert steps["notified"] >= 2, steps  # approval_requested and case_completed
    applied = next(line for line in lines if line["step"] == "applied")
    assert applied["tool"] == "accounts.update" and applied["risk_class"] == "privileged"
    assert applied["approval_required"] is True and applied["latency_ms"] is not None
    done = next(line for line in lines if line["step"] == "completed")
    assert done["decision"] == "approved"
