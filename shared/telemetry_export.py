"""Where spans and metrics go: Application Insights and/or an OTLP collector, chosen by app settings.

Called once by the composition root (``function_app.py``) with the environment:

- ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set → the Azure Monitor OpenTelemetry distro
  (``azure.monitor.opentelemetry.configure_azure_monitor``, which sets the global tracer and meter providers).
  With ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD`` (the template's choice: local
  ingestion auth is off) it sends with a ``ManagedIdentityCredential`` (``ClientId=<id>`` in that string
  for a user-assigned identity), as the Functions host does for its own telemetry
  (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` set → OTLP over HTTP/protobuf (``opentelemetry-exporter-otlp-proto-http``;
  the exporters read the ``OTEL_EXPORTER_OTLP_*`` variables themselves, spec:
  https://opentelemetry.io/docs/specs/otel/protocol/exporter/): added to the distro's providers as an extra
  span processor and metric reader, or, without Application Insights, on providers of our own made global.

Neither set: nothing is configured and the API's no-op providers make telemetry nearly free. A failure is
logged as a warning naming the exception type only (connection strings are never logged) and never stops
the app.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

APPINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
APPINSIGHTS_AUTH_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
OTLP_SETTING = "OTEL_EXPORTER_OTLP_ENDPOINT"

logger = logging.getLogger("case_workflow.app")


def _credential(auth: str | None) -> Any | None:
    """A ``ManagedIdentityCredential`` for ``Authorization=AAD[;ClientId=<id>]``, else None."""
    parts = dict(p.split("=", 1) for p in (auth or "").split(";") if "=" in p)
    if parts.get("Authorization", "").strip().upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    client_id = parts.get("ClientId", "").strip()
    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


def _otlp() -> tuple[Any, Any]:
    """A span processor and a metric reader exporting over OTLP/HTTP (endpoint from the environment)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter()), PeriodicExportingMetricReader(OTLPMetricExporter())


def configure_exporters(environ: Mapping[str, str]) -> list[str]:
    """Configure the exporters the settings in ``environ`` ask for; returns the configured ones
    (``"azure_monitor"``, ``"otlp"``), empty when none or when the set-up failed."""
    connection = (environ.get(APPINSIGHTS_SETTING) or "").strip()
    otlp = bool((environ.get(OTLP_SETTING) or "").strip())
    if not connection and not otlp:
        return []
    try:
        processors, readers = ([], [])
        if otlp:
            processor, reader = _otlp()
            processors, readers = [processor], [reader]
        if connection:
            from azure.monitor.opentelemetry import configure_azure_monitor

            options: dict[str, Any] = {"connection_string": connection}
            credential = _credential(environ.get(APPINSIGHTS_AUTH_SETTING))
            if credential is not None:
                options["credential"] = credential
            if otlp:
                options.update(span_processors=processors, metric_readers=readers)
            configure_azure_monitor(**options)
            return ["azure_monitor", "otlp"] if otlp else ["azure_monitor"]
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        resource = Resource.create()  # service.name etc. from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
        tracer_provider = TracerProvider(resource=resource)
        for processor in processors:
            tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        return ["otlp"]
    except Exception as exc:  # a telemetry problem must never stop the app
        logger.warning(
            "OpenTelemetry export not configured (%s); telemetry is not exported", type(exc).__name__
        )
        return []
