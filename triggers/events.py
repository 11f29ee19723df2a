"""POST /api/events: normalize an inbound event and start (or find) its case.

Accepts CloudEvents 1.0 (structured and binary), GitHub webhooks and plain JSON events (see
``shared/normalize``). Answers:

- 202 ``{"id", "instanceId", "redelivered", "statusUrl", "runtimeStatus"?}`` with ``Location`` (the
  case's ``/api/cases/{id}``) and ``X-Case-Redelivered: true|false``; a redelivered event gets the case it
  opened before. Nothing under ``/runtime/webhooks/durabletask`` is handed out: in Azure those URLs embed
  the Durable Functions system key (https://learn.microsoft.com/azure/azure-functions/durable/
  durable-functions-http-api), and event senders are not operators;
- 200 ``{"status": "ignored", ...}`` for a GitHub ``ping``;
- 400 / 401 / 413 / 415 ``{"error": ..., "fields": [...]}`` from normalization.

Authorization level: FUNCTION, not ANONYMOUS. CloudEvents and plain events carry no signature, and an
anonymous endpoint would let anyone on the internet open cases (and trigger auto-approved write actions) under
any requester name. GitHub can send the function key too: configure the webhook's payload URL as
``https://<app>/api/events?code=<function key>``; its ``X-Hub-Signature-256`` is verified on top of the key
(defence in depth). Locally (devhost, like Core Tools) keys are not enforced.
"""

from __future__ import annotations

import json
import logging

import azure.durable_functions as df
import azure.functions as func

from shared.normalize import IgnoredEvent, NormalizeError, normalize_http
from shared.settings import AppSettings, SettingsError
from triggers.ingress import start_case

EVENTS_FUNCTION = "ingest_event_http"
EVENTS_ROUTE = "events"
REDELIVERED_HEADER = "X-Case-Redelivered"

bp = df.Blueprint()
logger = logging.getLogger("case.ingress.http")


def _json(status: int, body: dict[str, object]) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


@bp.function_name(EVENTS_FUNCTION)
@bp.route(route=EVENTS_ROUTE, methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def ingest_event_http(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Normalize the request into a BusinessEvent, start or find its case, answer with its status links."""
    try:
        settings = AppSettings.current()
    except SettingsError:
        logger.exception("invalid app settings")
        return _json(500, {"error": "the app is misconfigured", "fields": []})
    try:
        event = normalize_http(dict(req.headers.items()), req.get_body(), settings)
    except IgnoredEvent as exc:
        return _json(200, {"status": "ignored", "reason": exc.message})
    except NormalizeError as exc:
        logger.info("refused event: %s %s", exc.status, exc.message)
        return _json(exc.status, exc.to_json())

    result = await start_case(client, event)
    status_url = f"{_origin(req.url)}/api/cases/{result.instance_id}"
    body: dict[str, object] = {
        "id": result.instance_id,
        "instanceId": result.instance_id,
        "redelivered": result.redelivered,
        "statusUrl": status_url,
    }
    if result.runtime_status is not None:
        body["runtimeStatus"] = result.runtime_status
    headers = {
        "Location": status_url,
        REDELIVERED_HEADER: "true" if result.redelivered else "false",
    }
    return func.HttpResponse(json.dumps(body), status_code=202, headers=headers, mimetype="application/json")


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (the request's own origin)."""
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    return url if path_start < 0 else url[:path_start]
