"""The case workflow app: composition root only. Each concern lives in a blueprint under triggers/,
orchestrations/ and activities/; this file creates the app and registers them.

It also configures the OpenTelemetry exporters, once at import (``shared/telemetry_export.py``): the
``case.*`` spans and metrics (``shared/telemetry.py``, ``shared/metrics.py``) go to Application Insights when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set and over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is
set; with neither they stay no-ops. And it reports, once, a tool the policy uses but the settings leave
without credentials (:func:`report_tool_configuration`), the judgment selection (``CASE_JUDGMENT``,
``shared/judgment_settings.py``), and every secret setting whose Key Vault reference did not resolve (a
warning each: ``shared/secret_settings.py``; the app treats such a setting as not set).
"""

import logging
import os

import azure.durable_functions as df
import azure.functions as func

from activities.case_steps import bp as case_steps
from activities.decisions import bp as decisions
from activities.effects import bp as effects
from activities.maintenance_steps import bp as maintenance_steps
from orchestrations.approval import bp as approval
from orchestrations.case_workflow import bp as case_workflow
from orchestrations.maintenance import bp as maintenance
from shared.judgment_settings import startup_report
from shared.secret_settings import report_unresolved
from shared.telemetry_export import APPINSIGHTS_SETTING, configure_exporters
from triggers.case_list import bp as case_list
from triggers.cases import bp as cases
from triggers.console import bp as console
from triggers.events import bp as events
from triggers.queue import bp as queue_ingress
from triggers.timer import bp as timer

logger = logging.getLogger("case_workflow.app")


def configure_tracing(connection_string: str | None) -> bool:
    """Configure the Azure Monitor OpenTelemetry distro with ``connection_string`` only (the app setting
    ``APPLICATIONINSIGHTS_CONNECTION_STRING``); True when configured, False when unset/empty or when the
    set-up failed (a warning naming the exception type; never the connection string). The app itself calls
    :func:`shared.telemetry_export.configure_exporters` with every setting (Entra ID ingestion, OTLP).
    The distro also exports Python log records; ``OTEL_LOGS_EXPORTER=none`` leaves logs to the Functions
    host. Source: https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-enable?tabs=python"""
    return "azure_monitor" in configure_exporters({APPINSIGHTS_SETTING: connection_string or ""})


def report_tool_configuration() -> list[str]:
    """Log, once at start, every tool of the policy in force that cannot act with these app settings (a
    missing credential such as ``GITHUB_TOKEN``: ``shared.adapters.configuration_problems``); each case
    applying such a tool fails at once with the same reason. Returns the problems. Never raises: an
    unreadable policy or setting is reported by the case steps that read them."""
    from shared.adapters import configuration_problems
    from shared.policy import load_policy
    from shared.settings import AppSettings

    try:
        settings = AppSettings.current()
        in_use = {tool.adapter for tool in load_policy(settings.policy_path).tools.values()}
    except Exception:
        return []
    problems = configuration_problems(settings, in_use)
    for problem in problems:
        logger.error("Configuration error: %s", problem)
    return problems


configure_exporters(os.environ)
report_unresolved(os.environ)  # a secret left as Key Vault reference text: one warning per setting
report_tool_configuration()
startup_report(logger)  # CASE_JUDGMENT and its endpoint, once; a misconfigured agent is an ERROR line

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    events,
    queue_ingress,
    cases,
    case_list,
    console,
    timer,
    case_workflow,
    approval,
    maintenance,
    case_steps,
    effects,
    maintenance_steps,
    decisions,
):
    app.register_functions(blueprint)
app.register_functions(__import__("triggers.openapi", fromlist=["bp"]).bp)  # GET /api/openapi.json


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness probe: 200 with a tiny JSON body."""
    return func.HttpResponse('{"status": "ok"}', mimetype="application/json")
