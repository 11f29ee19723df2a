"""Telemetry of real cases on devhost: one trace per case (the ingress span is the root, every activity span
its child, nothing duplicated by the orchestrator's replays) and the OpenTelemetry metrics after a scripted
set of cases. Spans and metrics go to in-memory readers injected into ``shared.telemetry`` /
``shared.metrics`` (the process-wide providers stay untouched); devhost runs ingress and activities in this
process, so they record there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devhost.testing import run_host
from orchestrations.names import SPECIALIST_ACTIVITIES
from shared import metrics
from tests.e2e.case_harness import REPO, CaseClient, app_settings, plain_event, principal, write_policy
from tests.fixtures.spans import exported_spans

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

BOB = principal("bob", "approver")
SCHEMA_KEYS = {"case.run_id", "case.workflow", "case.event_id", "case.latency_ms"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with exported_spans() as exporter:
        yield exporter


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory])
    previous = metrics.use_meter_provider(provider)
    try:
        yield memory
    finally:
        metrics.use_meter_provider(previous)
        provider.shutdown()


def _scheduled(base_url: str, instance_id: str) -> Counter[str]:
    """How many times the history scheduled each activity (TaskScheduled merged into its completion)."""
    r = httpx.get(
        f"{base_url}/runtime/webhooks/durabletask/instances/{instance_id}",
        params={"showHistory": "true"},
        timeout=30,
    )
    events = r.json()["historyEvents"]
    return Counter(
        e["FunctionName"]
        for e in events
        if e["EventType"] in ("TaskCompleted", "TaskFailed", "TaskScheduled")
    )


def test_one_trace_per_case_with_run_schema_and_no_replay_duplicates(app, spans):
    """An approved case: the orchestrator replays many episodes, yet each activity execution has exactly one
    span, all in the ingress span's trace and its direct children; the specialists of ``assess_case``
    (orchestration version 7.0) each have theirs under its span."""
    case_id = app.client.send(plain_event("otel-1", "account.change", requester="alice")).json()["instanceId"]
    app.client.wait_pending(case_id)
    assert app.client.decide(case_id, BOB, "approve", "fine").status_code == 202
    app.client.wait_runtime(case_id, "Completed")

    mine = [s for s in spans.get_finished_spans() if s.attributes.get("case.run_id") == case_id]
    (root,) = [s for s in mine if s.name == "case.start"]
    assert root.parent is None
    assert {s.context.trace_id for s in mine} == {root.context.trace_id}
    (assess,) = [s for s in mine if s.name == "case.assess_case"]
    parts = [s for s in mine if s.parent is not None and s.parent.span_id == assess.context.span_id]
    assert sorted(s.name for s in parts) == sorted(f"case.assess_{n}" for n in SPECIALIST_ACTIVITIES)
    children = [s for s in mine if s is not root and s not in parts]
    assert children and all(
        s.parent is not None and s.parent.span_id == root.context.span_id for s in children
    )

    per_step = Counter(s.name.removeprefix("case.") for s in children)
    scheduled = _scheduled(app.host.base_url, case_id)
    expected = Counter({("classify" if n == "classify_case" else n): c for n, c in scheduled.items()})
    assert per_step == expected  # one span per activity execution, none from replays
    for s in mine:
        assert set(s.attributes) >= SCHEMA_KEYS, (s.name, dict(s.attributes))
        assert s.attributes["case.event_id"] == "otel-1"
    (apply,) = [s for s in children if s.name == "case.apply_action"]
    assert apply.attributes["case.tool"] == "accounts.update"
    assert apply.attributes["case.approval_required"] is True
    assert apply.attributes["case.risk_class"] and apply.attributes["case.decision"] == "approved"


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def _sums(points: list[Any]) -> dict[tuple[tuple[str, Any], ...], float]:
    return {tuple(sorted(p.attributes.items())): p.value for p in points}


def _counts(points: list[Any]) -> dict[tuple[tuple[str, Any], ...], int]:
    return {tuple(sorted(p.attributes.items())): p.count for p in points}


def test_metrics_after_a_scripted_set_of_cases(app, reader):
    """Low-risk completed, approved, rejected: started/finished by outcome and risk class, approvals by
    decision, time to decision, case duration and side effects by tool and result."""
    low = app.client.send(plain_event("m-low", "order.cancel", amount=20)).json()["instanceId"]
    approved = app.client.send(plain_event("m-ok", "account.change")).json()["instanceId"]
    rejected = app.client.send(plain_event("m-no", "account.change")).json()["instanceId"]
    for case_id in (approved, rejected):
        app.client.wait_pending(case_id)
    assert app.client.decide(approved, BOB, "approve", "ok").status_code == 202
    assert app.client.decide(rejected, BOB, "reject", "no").status_code == 202
    views = {c: app.client.wait_runtime(c, "Completed") for c in (low, approved, rejected)}
    low_risk, account_risk = views[low]["riskClass"], views[approved]["riskClass"]

    points = _points(reader)
    assert _sums(points["case.started"]) == {(("channel", "http"),): 3}
    assert _sums(points["case.finished"]) == {
        (("outcome", "completed"), ("risk_class", low_risk)): 1,
        (("outcome", "completed"), ("risk_class", account_risk)): 1,
        (("outcome", "rejected"), ("risk_class", account_risk)): 1,
    }
    assert sum(_counts(points["case.duration"]).values()) == 3
    assert all(p.min >= 0 for p in points["case.duration"])
    assert _sums(points["case.approvals"]) == {(("decision", "approved"),): 1, (("decision", "rejected"),): 1}
    assert _counts(points["case.time_to_decision"]) == {
        (("decision", "approved"),): 1,
        (("decision", "rejected"),): 1,
    }
    assert _sums(points["case.side_effects"]) == {
        (("result", "applied"), ("tool", "orders.cancel")): 1,
        (("result", "applied"), ("tool", "accounts.update")): 1,
    }
    assert "case.budget_stops" not in points or not _sums(points["case.budget_stops"])


def test_budget_stops_are_counted(azurite, downstream, tmp_path, reader):
    """A policy whose activity budget runs out before the decision: the case fails as stopped."""
    policy = write_policy(
        tmp_path / "policy.json", downstream.url, budgets={"max_activities": 2, "max_runtime_s": 345600}
    )
    settings = app_settings(azurite, policy, downstream.url)
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        client = CaseClient(host.base_url)
        case_id = client.send(plain_event("m-budget", "order.cancel", amount=20)).json()["instanceId"]
        view = client.wait_runtime(case_id, "Completed", "Failed")
    assert view["stage"] == "failed" and "budget" in view["outcome"]["reason"]
    points = _points(reader)
    assert _sums(points["case.budget_stops"]) == {(("budget", "max_activities"),): 1}
    assert _sums(points["case.finished"]) == {(("outcome", "failed"), ("risk_class", "unknown")): 1}
