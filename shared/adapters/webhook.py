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
from shared.adapters.errors import InvalidActionRequest, PermanentAdapterError, TransientAdapterError
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
        url = request.parameters.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidActionRequest(self.name, "url", "an http(s) URL is required")
        body = {
            "idempotency_key": idempotency_key,
            "instance_id": request.instance_id,
            "action": request.action,
            "target": request.target,
            "outcome": request.outcome,
            "parameters": {k: v for k, v in request.parameters.items() if k != "url"},
        }
        headers = {"Idempotency-Key": idempotency_key, "X-Case-Instance-Id": request.instance_id}
        try:
            with httpx.Client(timeout=settings.http_timeout_s, transport=self._transport) as client:
                response = client.post(url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientAdapterError(self.name, f"timed out after {settings.http_timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise TransientAdapterError(self.name, f"cannot reach the receiver: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientAdapterError(self.name, f"receiver answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentAdapterError(
                self.name, f"receiver refused with {response.status_code}", response.status_code
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
