"""OpenTelemetry spans of the case steps: one ``case.<step>`` span per activity and per ingress start,
carrying the run schema as ``case.*`` attributes, marked ERROR with the exception when a step fails.

The activities are called as plain functions (the user function behind the decorator) with the shipped
policy; the spans go to an in-memory exporter through a TracerProvider injected into ``shared.telemetry``
(``use_tracer_provider``), so the process-wide provider is never set and nothing leaks between tests.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import activities.case_steps as steps
import activities.effects as effects
import function_app
from shared import telemetry
from shared.case_errors import ApplyRefused, StepInputError
from shared.contracts.event import BusinessEvent, case_instance_id
from shared.policy_ref import from_load_result
from tests.fixtures.durable_client import FakeDurableClient
from tests.fixtures.functions import user_fn
from triggers.ingress import start_case

CASE = "case-telemetry-1"




def make_event(type_: str = "account.change", **attributes: Any) -> BusinessEvent:
    return BusinessEvent(
        event_id="evt-otel-1",
        source="tests",
        type=type_,
        subject="account-7",
        requester="alice",
        occurred_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        format="plain",
        channel="http",
        attributes=attributes,
    )


def only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    spans = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(spans) == 1, [s.name for s in exporter.get_finished_spans()]
    return spans[0]


def judged(event: BusinessEvent) -> dict[str, Any]:
    """Run load_policy → classify → three assessments → decide_policy; returns the inputs and outputs."""
    loaded = user_fn(steps.load_policy)({"case_instance_id": CASE, "event_id": event.event_id})
    policy = from_load_result(loaded).input
    base = {"case_instance_id": CASE, "event": event.model_dump(mode="json"), **policy}
    classification = user_fn(steps.classify_case)(base)
    with_class = {**base, "classification": classification}
    assessments = [
        user_fn(step)(with_class)
        for step in (steps.assess_policy, steps.assess_risk, steps.assess_requester_history)
    ]
    decided = user_fn(steps.decide_policy)({**with_class, "assessments": assessments})
    return {**with_class, **decided}


def test_each_judging_step_has_its_span_with_the_run_schema(exported):
    """load_policy, classify, the three assessments and decide_policy each end one case.<step> span whose
    case.* attributes are the run fields the step knows (run_id = the instance id)."""
    judged(make_event())

    names = [s.name for s in exported.get_finished_spans()]
    assert names == [
        "case.load_policy",
        "case.classify",
        "case.assess_policy",
        "case.assess_risk",
        "case.assess_requester_history",
        "case.decide_policy",
    ]
    classify = dict(only(exported, "case.classify").attributes or {})
    assert classify["case.run_id"] == CASE
    assert classify["case.workflow"] == "case_workflow"
    assert classify["case.event_id"] == "evt-otel-1"
    assert classify["case.risk_class"] == "privileged"
    assert classify["case.cost_estimate"] == 0.0
    assert classify["case.latency_ms"] >= 0
    decide = dict(only(exported, "case.decide_policy").attributes or {})
    assert decide["case.tool"] and decide["case.risk_class"] == "privileged"
    assert decide["case.approval_required"] is True
    assert all(s.status.status_code is StatusCode.UNSET for s in exported.get_finished_spans())
    loaded = dict(only(exported, "case.load_policy").attributes or {})
    assert loaded["case.run_id"] == CASE and loaded["case.event_id"] == "evt-otel-1"


def test_a_failing_step_marks_its_span_as_error_with_the_exception(exported):
    """A step that raises leaves a span with status ERROR and an 'exception' event; the error propagates.
    Here the input lacks its event: the input model refuses it at entry, naming the activity and field."""
    refused = r"activity classify_case: .*ClassifyInput: event: Field required"
    with pytest.raises(StepInputError, match=refused):
        user_fn(steps.classify_case)({"case_instance_id": CASE, "policy": {}})

    failed = only(exported, "case.classify")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description.startswith("StepInputError")
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.events[0].attributes["exception.type"] == "shared.case_errors.StepInputError"
    assert failed.attributes["case.run_id"] == CASE


def test_a_refused_apply_keeps_what_it_knew_on_the_error_span(exported):
    """apply_action refused by the plan (auto apply of a privileged action): the span carries tool, risk
    class, approval_required and the mode as case.decision, and is marked ERROR with ApplyRefused; the
    activity returns the refusal (a business outcome) instead of raising."""
    case = judged(make_event())
    exported.clear()
    payload = {
        "case_instance_id": CASE,
        "event": case["event"],
        "decision": case["decision"],
        "mode": "auto",
        "approval": None,
    }

    result = user_fn(effects.apply_action)(payload)
    assert result["status"] == "refused" and result["reason"].startswith(ApplyRefused.__name__)

    refused = only(exported, "case.apply_action")
    attributes = dict(refused.attributes or {})
    assert attributes["case.run_id"] == CASE
    assert attributes["case.event_id"] == "evt-otel-1"
    assert attributes["case.tool"] == case["decision"]["tool"]
    assert attributes["case.risk_class"] == "privileged"
    assert attributes["case.approval_required"] is True
    assert attributes["case.decision"] == "auto"
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.events[0].attributes["exception.type"] == "shared.case_errors.ApplyRefused"


def _Client(error: Exception | None = None) -> FakeDurableClient:
    """Durable client stand-in: no instance yet, start_new succeeds (or fails with ``error``)."""
    return FakeDurableClient(None, start_error=error)


def test_ingress_start_is_the_case_start_span(exported):
    """start_case ends one case.start span with run_id = the case's instance id and case.redelivered."""
    event = make_event()

    result = asyncio.run(start_case(_Client(), event))

    started = only(exported, "case.start")
    assert started.attributes["case.run_id"] == result.instance_id == case_instance_id(event)
    assert started.attributes["case.event_id"] == "evt-otel-1"
    assert started.attributes["case.redelivered"] is False
    assert started.attributes["case.latency_ms"] >= 0


def test_ingress_start_failure_is_an_error_span(exported):
    """The task hub unreachable: the error propagates and the case.start span is ERROR."""
    with pytest.raises(ConnectionError):
        asyncio.run(start_case(_Client(ConnectionError("task hub down")), make_event()))

    assert only(exported, "case.start").status.status_code is StatusCode.ERROR


def test_the_injected_provider_never_becomes_the_global_one(exported):
    """Injection leaves the process-wide provider alone, so other tests and the app are unaffected."""
    with telemetry.span("probe", telemetry.RunFields(run_id="r")):
        pass

    assert only(exported, "case.probe").attributes["case.run_id"] == "r"
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def test_tracing_is_configured_only_with_a_connection_string(monkeypatch):
    """configure_tracing: unset/empty does nothing; set calls configure_azure_monitor with it."""
    import azure.monitor.opentelemetry as distro

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kw: calls.append(kw))

    assert function_app.configure_tracing(None) is False
    assert function_app.configure_tracing("") is False
    assert calls == []
    assert function_app.configure_tracing("InstrumentationKey=00000000-0000-0000-0000-000000000000") is True
    assert calls == [{"connection_string": "InstrumentationKey=00000000-0000-0000-0000-000000000000"}]


def test_a_failing_exporter_setup_only_warns(monkeypatch, caplog):
    """configure_azure_monitor raising: a warning naming the exception type (never the connection string),
    False, and no exception out of the app's import path."""
    import azure.monitor.opentelemetry as distro

    def broken(**kwargs: Any) -> None:
        raise ValueError("bad InstrumentationKey=secret-ish")

    monkeypatch.setattr(distro, "configure_azure_monitor", broken)

    with caplog.at_level(logging.WARNING, logger="case_workflow.app"):
        assert function_app.configure_tracing("InstrumentationKey=secret-ish") is False

    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "ValueError" in record.getMessage()
    assert "secret-ish" not in record.getMessage()


def test_log_step_builds_no_line_for_a_disabled_logger_but_records_metrics(monkeypatch, caplog):
    """A run-schema line below the logger's level is not built (no JSON encoding); its metrics still are."""
    recorded: list[str] = []
    monkeypatch.setattr(telemetry.metrics, "record_step", lambda step, fields, extra: recorded.append(step))
    monkeypatch.setattr(telemetry, "step_record", lambda *a, **k: pytest.fail("record built"))
    quiet = logging.getLogger("tests.quiet_run_schema")
    quiet.setLevel(logging.WARNING)
    telemetry.log_step(quiet, "applied", telemetry.RunFields(run_id=CASE))
    assert recorded == ["applied"]
    assert not caplog.records
