"""Durable HTTP: ``context.call_http`` executed by the host, not by user code.

The SDK (azure-functions-durable 1.7.0, ``models/actions/CallHttpAction.py``,
``models/DurableHttpRequest.py``) sends a CallHttp action ``{"actionType": 8, "httpRequest": {"method", "uri",
"content"?, "headers"?, "tokenSource"? {"resource", "kind": "AzureManagedIdentity"}}}``; devhost records it
as TaskScheduled ``BuiltIn::HttpActivity`` with that request as input, like the extension. The answer is a
TaskCompleted whose result is the extension's ``DurableHttpResponse`` JSON
(EXT ``DurableHttpResponse.cs`` + ``HttpHeadersConverter``): ``{"statusCode": int, "headers": {name: value |
[values]}, "content": str}``; the orchestrator gets it as a dict. Only response headers are included, not
content headers (``Content-Type``, ``Content-Length`` …), as .NET's ``HttpResponseMessage.Headers``; names
arrive lower-cased (HTTP/1.1 client).

Asynchronous pattern (EXT ``DurableOrchestrationContext.CallHttpAsync``, on by default: the request's
``asynchronousPatternEnabled``): while the answer is 202 with a ``Location`` header, wait ``Retry-After``
seconds (else host.json ``extensions.durableTask.httpSettings.defaultAsyncRequestSleepTimeMilliseconds``,
default 30,000 ms) on the host clock, then ``GET`` the Location with the same headers and token. A virtual
clock makes that wait milliseconds of wall time. Unlike the extension, the wait is not a durable timer in
the history: a host killed while polling runs the whole call again at its next start (at-least-once, as
any activity work item).

Token sources: Azure managed identity does not exist on a developer machine. A call with a ``tokenSource``
fails with a clear "not available locally" message unless app setting ``DEVHOST_MANAGED_IDENTITY_TOKEN``
holds a bearer token to send (``Authorization: Bearer …``, for any resource); the token is never logged.
"""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from devhost.errors import DevhostError

if TYPE_CHECKING:
    from devhost.clock import Clock

TOKEN_SETTING = "DEVHOST_MANAGED_IDENTITY_TOKEN"
DEFAULT_SLEEP_MS = 30_000
TIMEOUT_S = 100.0  # .NET HttpClient's default timeout
CONTENT_HEADERS = frozenset({
    "allow", "content-disposition", "content-encoding", "content-language", "content-length",
    "content-location", "content-md5", "content-range", "content-type", "expires", "last-modified",
})


class DurableHttpError(DevhostError):
    """The call could not be made (bad request shape, no token, network error); becomes TaskFailed."""


@dataclass(frozen=True)
class HttpRequestSpec:
    """A parsed ``httpRequest`` (method upper-cased; ``headers`` name → value)."""

    method: str
    uri: str
    content: str | None
    headers: dict[str, str]
    token_resource: str | None
    asynchronous: bool

    @classmethod
    def from_input(cls, text: str | None) -> HttpRequestSpec:
        """Parse the TaskScheduled input (the action's ``httpRequest`` as JSON text). Raises
        DurableHttpError when it is not an object with ``method`` and an absolute http(s) ``uri``."""
        try:
            req = json.loads(text or "null")
        except json.JSONDecodeError as exc:
            raise DurableHttpError(f"The durable HTTP request is not JSON: {exc}") from exc
        if not isinstance(req, dict) or not req.get("method") or not req.get("uri"):
            raise DurableHttpError("The durable HTTP request needs a method and a uri.")
        uri = str(req["uri"])
        if not uri.lower().startswith(("http://", "https://")):
            raise DurableHttpError(f"The durable HTTP request uri {uri!r} is not an absolute http(s) URL.")
        headers = req.get("headers") or {}
        if not isinstance(headers, dict):
            raise DurableHttpError("The durable HTTP request headers must be an object of strings.")
        token = req.get("tokenSource")
        resource = None
        if isinstance(token, dict):
            resource = str(token.get("resource") or "")
        content = req.get("content")
        return cls(
            method=str(req["method"]).upper(),
            uri=uri,
            content=None if content is None else str(content),
            headers={str(k): _header_value(v) for k, v in headers.items()},
            token_resource=resource,
            asynchronous=req.get("asynchronousPatternEnabled", True) is not False,
        )


def _header_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def response_json(response: httpx.Response) -> str:
    """The extension's DurableHttpResponse JSON for ``response`` (see module docstring)."""
    headers: dict[str, Any] = {}
    for name in response.headers:
        if name.lower() in CONTENT_HEADERS:
            continue
        values = response.headers.get_list(name)
        headers[name] = values[0] if len(values) == 1 else values
    return json.dumps({"statusCode": response.status_code, "headers": headers, "content": response.text})


def retry_after_s(response: httpx.Response, now: datetime, default_ms: int) -> float:
    """Seconds to wait before polling: ``Retry-After`` as delta-seconds or an HTTP date (relative to the
    host clock's ``now``), else ``default_ms``."""
    raw = response.headers.get("retry-after")
    if raw is not None:
        raw = raw.strip()
        if raw.isdigit():
            return float(raw)
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, (when.astimezone(UTC) - now).total_seconds())
    return default_ms / 1000


async def call(
    spec: HttpRequestSpec,
    *,
    clock: Clock,
    client: httpx.AsyncClient,
    token_for: Callable[[str], str | None],
    default_sleep_ms: int = DEFAULT_SLEEP_MS,
    log: logging.Logger | None = None,
) -> str:
    """Make the call (and poll a 202 + Location answer, see module docstring); returns the
    DurableHttpResponse JSON. Waits use ``clock`` and hold no ``clock.busy()``, so a virtual clock can
    jump over them; each request holds it. Raises DurableHttpError (no token, network failure)."""
    headers = dict(spec.headers)
    if spec.token_resource is not None:
        token = token_for(spec.token_resource)
        if not token:
            raise DurableHttpError(
                f"A managed identity token for resource '{spec.token_resource}' is not available locally: "
                "devhost has no Azure managed identity. Set app setting "
                f"{TOKEN_SETTING} to a bearer token to send, or call without token_source."
            )
        headers["Authorization"] = f"Bearer {token}"
    method, uri, content = spec.method, spec.uri, spec.content
    while True:
        response = await _send(client, clock, method, uri, headers, content, log)
        location = response.headers.get("location")
        if response.status_code != 202 or not spec.asynchronous or not location:
            return response_json(response)
        wait_s = retry_after_s(response, clock.now(), default_sleep_ms)
        if log is not None:
            log.info("Durable HTTP: %s %s answered 202; polling its Location in %.3f s", method, _safe(uri),
                     wait_s)
        await clock.sleep(wait_s)
        method, uri, content = "GET", str(httpx.URL(uri).join(location)), None


async def _send(client: httpx.AsyncClient, clock: Clock, method: str, uri: str, headers: dict[str, str],
                content: str | None, log: logging.Logger | None) -> httpx.Response:
    if content is not None and not any(k.lower() == "content-type" for k in headers):
        headers = {**headers, "Content-Type": "text/plain; charset=utf-8"}  # .NET StringContent default
    with clock.busy():
        try:
            response = await client.request(
                method, uri, headers=headers, content=None if content is None else content.encode("utf-8"),
            )
        except httpx.HTTPError as exc:
            raise DurableHttpError(f"Durable HTTP request {method} {_safe(uri)} failed: "
                                   f"{type(exc).__name__}: {exc}") from exc
    if log is not None:
        log.info("Durable HTTP: %s %s → %d", method, _safe(uri), response.status_code)
    return response


def _safe(uri: str) -> str:
    """``uri`` without query and user info (they may hold secrets such as SAS tokens)."""
    try:
        url = httpx.URL(uri)
        return str(url.copy_with(query=None, fragment=None, username=None, password=None))
    except Exception:  # an unparsable URL: say so without echoing it
        return "<unparsable uri>"
