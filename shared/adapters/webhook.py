"""The HTTP webhook adapter: POST the action as JSON to ``parameters["url"]`` with an ``Idempotency-Key``.

Repeating the call with the same key is safe only because the receiver honours ``Idempotency-Key``
(the IETF draft "The Idempotency-Key HTTP Header Field",
https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/): that is the downstream half of
exactly-once for a crash between acting and recording in the ledger.

Request body (JSON): ``{"idempotency_key", "instance_id", "action", "target", "outcome", "parameters"}`` where
``parameters`` are the request's parameters without ``url``. Headers: ``Idempotency-Key``,
``X-Case-Instance-Id`` (the run id, for correlation downstream).
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.adapters.base import ActionRequest
from shared.adapters.http_send import client_for, require_http_url, send
from shared.settings import AppSettings

MAX_RESPONSE_CHARS = 2_000


class WebhookAdapter:
    """POSTs the action to a URL; name ``webhook``.

    ``apply`` returns ``{"tool": "webhook", "url", "status_code", "response"}`` (``response``: the parsed JSON
    body, or up to 2000 characters of text, or None). Raises :class:`InvalidActionRequest` without a
    ``http(s)`` ``url``, :class:`TransientAdapterError` on 5xx, 429, timeouts and connection errors,
    :class:`PermanentAdapterError` on other 4xx.
    """

    name = "webhook"

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def apply(self, request: ActionRequest, idempotency_key: str, settings: AppSettings) -> dict[str, Any]:
        """Send the action once (per call) with ``Idempotency-Key: idempotency_key``."""
        url = require_http_url(self.name, request.parameters, "url", "an http(s) URL is required")
        body = {
            "idempotency_key": idempotency_key,
            "instance_id": request.instance_id,
            "action": request.action,
            "target": request.target,
            "outcome": request.outcome,
            "parameters": {k: v for k, v in request.parameters.items() if k != "url"},
        }
        headers = {"Idempotency-Key": idempotency_key, "X-Case-Instance-Id": request.instance_id}
        with client_for(settings.http_timeout_s, self._transport) as client:
            response = send(
                client, self.name, "POST", url, json=body, headers=headers,
                subject="receiver", peer="the receiver",
                timeout_text=f"timed out after {settings.http_timeout_s}s",
            )
        return {
            "tool": self.name,
            "url": url,
            "status_code": response.status_code,
            "response": _response_body(response),
        }


def _response_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if len(response.text) > MAX_RESPONSE_CHARS:
        return response.text[:MAX_RESPONSE_CHARS]
    try:
        return response.json()
    except ValueError:
        return response.text
