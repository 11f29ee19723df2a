"""Request limits of devhost's HTTP layer: hostile sizes and JSON get a clear 4xx, never a 500 or a reset.

Mirrors the limits of the Functions host's Kestrel server (https://learn.microsoft.com/aspnet/core/
fundamentals/servers/kestrel/options): a request line over :data:`MAX_URL_BYTES` (Kestrel
``MaxRequestLineSize``, 8 KB) → **414**; headers over :data:`MAX_HEADER_BYTES` in total (Kestrel
``MaxRequestHeadersTotalSize``, 32 KB) → **431**. uvicorn is configured to read header blocks up to
:data:`MAX_INCOMPLETE_EVENT_BYTES` so these reach :class:`RequestLimits` instead of resetting the
connection. JSON that devhost parses itself (the Durable HTTP API, ``/admin``, HTTP-trigger binding data) goes
through :func:`loads`: nesting deeper than :data:`MAX_JSON_DEPTH` (Json.NET's default ``MaxDepth``, 64),
number literals longer than :data:`MAX_NUMBER_CHARS`, and ``NaN``/``Infinity`` raise ``ValueError``
(→ 400) instead of ``RecursionError``/non-standard JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from devhost.errors import DevhostError

MAX_URL_BYTES = 8192
MAX_HEADER_BYTES = 32768
MAX_INCOMPLETE_EVENT_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_NUMBER_CHARS = 64

_Scope = dict[str, Any]


class HostileJsonError(DevhostError, ValueError):
    """JSON beyond :func:`loads`'s limits (the message names which)."""


def _too_deep(text: str) -> bool:
    # The same scan as shared/strict_values.py in the case app, on purpose: devhost runs any app and
    # never imports an app's packages (and the app never imports devhost), so each side keeps its own.
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _number(text: str, kind: type) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise HostileJsonError(f"a number of {len(text)} characters exceeds {MAX_NUMBER_CHARS}")
    value = kind(text)
    if kind is float and not math.isfinite(value):
        raise HostileJsonError(f"the number {text[:20]} overflows a double")
    return value


def _constant(name: str) -> Any:
    raise HostileJsonError(f"{name} is not standard JSON")


def loads(data: str | bytes) -> Any:
    """``json.loads`` within the limits of the module docstring; raises ``ValueError`` otherwise."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes | bytearray) else data
    if _too_deep(text):
        raise HostileJsonError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(
            text,
            parse_constant=_constant,
            parse_int=lambda t: _number(t, int),
            parse_float=lambda t: _number(t, float),
        )
    except RecursionError as exc:  # pragma: no cover - the depth check runs first
        raise HostileJsonError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc


class RequestLimits:
    """ASGI middleware answering 414 / 431 (JSON ``{"error": ...}``) before any route runs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            url = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(
                scope.get("query_string", b"")
            )
            headers = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))
            if url > MAX_URL_BYTES:
                await _refuse(send, 414, f"the request URL is {url} bytes; the limit is {MAX_URL_BYTES}")
                return
            if headers > MAX_HEADER_BYTES:
                await _refuse(
                    send, 431, f"the request headers are {headers} bytes; the limit is {MAX_HEADER_BYTES}"
                )
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
