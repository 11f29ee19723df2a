"""Exporter selection by app settings (Application Insights with Entra ID ingestion, OTLP/HTTP, both,
neither) and the metrics a run record implies where no devhost case produces it (judgment fallback)."""

from __future__ import annotations

from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared import metrics, telemetry_export
from shared.telemetry import RunFields, log_step


@pytest.fixture
def distro(monkeypatch) -> list[dict[str, Any]]:
    import azure.monitor.opentelemetry as module

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(module, "configure_azure_monitor", lambda **kw: calls.append(kw))
    return calls


def _shutdown(options: dict[str, Any]) -> None:
    for processor in options.get("span_processors", []):
        processor.shutdown()
    for reader in options.get("metric_readers", []):
        reader.shutdown()


def test_nothing_set_configures_nothing(distro):
    assert telemetry_export.configure_exporters({}) == []
    assert distro == []


def test_application_insights_with_entra_id_ingestion(distro):
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
    }
    assert telemetry_export.configure_exporters(env) == ["azure_monitor"]
    (options,) = distro
    assert options["connection_string"] == env["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    assert isinstance(options["credential"], ManagedIdentityCredential)
    assert "span_processors" not in options


def test_application_insights_and_otlp_together(distro, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
    }
    assert telemetry_export.configure_exporters(env) == ["azure_monitor", "otlp"]
    (options,) = distro
    try:
        assert "credential" not in options
        (processor,) = options["span_processors"]
        assert isinstance(processor.span_exporter, OTLPSpanExporter)
        (reader,) = options["metric_readers"]
        assert isinstance(reader._exporter, OTLPMetricExporter)
    finally:
        _shutdown(options)


def test_otlp_alone_sets_providers_of_its_own(distro, monkeypatch):
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace

    set_calls: list[Any] = []
    monkeypatch.setattr(trace, "set_tracer_provider", set_calls.append)
    monkeypatch.setattr(otel_metrics, "set_meter_provider", set_calls.append)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    assert telemetry_export.configure_exporters({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}) == [
        "otlp"
    ]
    assert distro == []
    tracer_provider, meter_provider = set_calls
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_judgment_fallbacks_and_failed_side_effects_are_counted():
    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory])
    previous = metrics.use_meter_provider(provider)
    try:
        import logging

        log = logging.getLogger("test.metrics")
        log_step(log, "classified", RunFields(run_id="r"), judgment_source="rules-fallback")
        log_step(log, "classified", RunFields(run_id="r"), judgment_source="agent")
        metrics.record_step_failure("apply_action", RunFields(run_id="r", tool="refunds.issue"))
        data = memory.get_metrics_data()
        found = {
            m.name: {tuple(sorted(p.attributes.items())): p.value for p in m.data.data_points}
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        }
    finally:
        metrics.use_meter_provider(previous)
        provider.shutdown()
    assert found["case.judgment_fallbacks"] == {(("step", "classified"),): 1}
    assert found["case.side_effects"] == {(("result", "failed"), ("tool", "refunds.issue")): 1}
