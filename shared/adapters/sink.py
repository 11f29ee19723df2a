"""The local sink: run a tool adapter against a recording transport instead of the network.

For local runs (``make run`` offline, no credentials) the app setting ``CASE_TOOL_SINK`` lists tool adapter
names (e.g. ``github-deployment-status``) whose HTTP calls go to an ``httpx`` transport that answers like
the real service and records each request. The adapter's code runs unchanged (URL rebasing, reconcile
first, the request body with its idempotency marker), so the record shows exactly what would have been
sent; nothing leaves the machine. The recorded requests go into the adapter's result, which the ledger
stores and the case's audit trail shows (``side_effect``), and one log line per request says so.

httpx's transport seam (``httpx.BaseTransport.handle_request``) is the documented way to do this:
https://www.python-httpx.org/advanced/transports/#custom-transports. Headers are not recorded (they may
carry a token).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx

from shared.adapters.base import ActionRequest, ToolAdapter
from shared.settings import AppSettings

logger = logging.getLogger("case_workflow.sink")

Answer = Callable[[httpx.Request], httpx.Response]
SINK_NOTE = "recorded by the local sink (app setting CASE_TOOL_SINK); nothing was sent"


def ok_answer(request: httpx.Request) -> httpx.Response:
    """A 200 ``{}`` for any request (a webhook receiver that accepts everything)."""
    return httpx.Response(200, json={})


def _body(request: httpx.Request) -> Any:
    raw = request.content
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class RecordingTransport(httpx.BaseTransport):
    """Answers every request with ``answer(request)`` and keeps ``{"method", "url", "body"}`` of each."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record, then answer (httpx's transport API)."""
        request.read()
        self.requests.append({"method": request.method, "url": str(request.url), "body": _body(request)})
        return self.answer(request)


class SinkAdapter:
    """``name``'s adapter built by ``build(transport)`` around a :class:`RecordingTransport`.

    ``apply`` returns the inner adapter's result plus ``"sink": {"sent": False, "note", "requests": [...]}``
    (the requests that would have been sent, in order). Raises what the inner adapter raises.
    """

    def __init__(
        self, name: str, build: Callable[[httpx.BaseTransport], ToolAdapter], answer: Answer
    ) -> None:
        self.name = name
        self._build = build
        self._answer = answer

    def apply(self, request: ActionRequest, idempotency_key: str, settings: AppSettings) -> dict[str, Any]:
        """Run the inner adapter offline and report what it would have sent."""
        transport = RecordingTransport(self._answer)
        result = self._build(transport).apply(request, idempotency_key, settings)
        for sent in transport.requests:
            logger.info("tool %s (local sink): would have sent %s %s", self.name, sent["method"], sent["url"])
        return {**result, "sink": {"sent": False, "note": SINK_NOTE, "requests": transport.requests}}
