"""The Durable client's calls to this host's own HTTP API, served in-process.

The SDK's ``DurableOrchestrationClient`` (azure-functions-durable 1.x,
``azure/durable_functions/models/DurableOrchestrationClient.py``) makes every call through three module
functions of ``models/utils/http_utils.py`` – ``post_async_request``, ``get_async_request`` and
``delete_async_request`` (aiohttp, one session per process) – with the URLs of its durableClient
binding, which devhost points at its own ``/runtime/webhooks/durabletask`` routes
(:mod:`devhost.durable.client_binding`). On Azure those URLs belong to the Functions host, another
process. Under devhost the host is this process and its event loop, so each call was a whole HTTP round
trip on the loop the calling function runs on: aiohttp's request, the socket, uvicorn's parsing and the
response, several loop turns each waiting behind the task hub's work. ``POST /api/events`` makes two such
calls; at 16 concurrent senders its p50 was ~85 ms, served in-process ~35 ms (issue 15,
``bench/cases.py``).

:func:`register` (the durable extension, at start) makes a call whose URL is under the host's base URL,
made on the host's own event loop, go straight into the host's ASGI app (:func:`_asgi_call`, one ASGI
``http`` request: the same routes, middleware, status codes and bodies as over HTTP, application errors
answered 500 as uvicorn does). Any other call – another host's URL, another event loop, a remote task hub
– goes to the SDK's aiohttp function unchanged. The answer has the SDK functions' shape: ``[status, JSON
body]``, an empty body being None (``""`` for GET), as aiohttp's ``response.json(content_type=None)``
gives it; the URL is quoted as aiohttp quotes it (``yarl.URL``), so an instance id holding NUL or ``#``
reaches the routes as it does over HTTP.

The ASGI scope is the one ``httpx.ASGITransport`` built (which served these calls until issue 15 measured
its client layers – cookies, auth, redirects, URL merging – at ~125 µs of a ~145 µs call): scheme, host,
port and ``Host`` header from the base URL, ``path`` the percent-decoded ``raw_path``, ``query_string`` as
quoted (tests/devhost/durable/unit/test_local_client.py compares both for odd instance ids).

The app setting ``DEVHOST_DURABLE_CLIENT_HTTP=true`` keeps every call on real HTTP (the durable
extension then does not register). :func:`register` patches the SDK module's three names (the client copies
them when it is built) while at least one host is registered; the last :func:`unregister` restores them.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import yarl  # aiohttp's URL type (the SDK's client requests go through it)

#: App setting (local.settings.json ``Values``): ``true`` or ``1`` keeps the client's calls on HTTP.
HTTP_SETTING = "DEVHOST_DURABLE_CLIENT_HTTP"
_CLIENT_MODULE = "azure.durable_functions.models.DurableOrchestrationClient"
_NAMES = ("post_async_request", "get_async_request", "delete_async_request")


@dataclass(frozen=True)
class _Host:
    prefix: str  # base URL + "/"
    loop: asyncio.AbstractEventLoop
    app: Any  # the ASGI app
    scheme: str
    server: tuple[str, int | None]  # (host, port), port None when the scheme's default
    host_header: bytes


_lock = threading.Lock()
_hosts: dict[str, _Host] = {}
_saved: dict[str, Any] = {}


def register(base_url: str, asgi_app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Serve client calls to ``base_url`` (``http://127.0.0.1:7071``, no trailing slash) made on ``loop``
    with ``asgi_app`` in-process (module docstring)."""
    base = httpx.URL(base_url)  # host and port normalised as httpx did (a default port is None)
    with _lock:
        _hosts[base_url] = _Host(base_url.rstrip("/") + "/", loop, asgi_app, base.scheme,
                                 (base.host, base.port), base.netloc)
        if not _saved:
            module = importlib.import_module(_CLIENT_MODULE)
            for name in _NAMES:
                _saved[name] = getattr(module, name)
            for name, fn in zip(_NAMES, (post_async_request, get_async_request, delete_async_request),
                                strict=True):
                setattr(module, name, fn)


async def unregister(base_url: str) -> None:
    """Stop serving ``base_url`` in-process; the last host to go restores the SDK's functions."""
    with _lock:
        _hosts.pop(base_url, None)
        if not _hosts and _saved:
            module = importlib.import_module(_CLIENT_MODULE)
            for name, fn in _saved.items():
                setattr(module, name, fn)
            _saved.clear()


def _local(url: str) -> _Host | None:
    """The registered host serving ``url`` on the running loop, if any."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    for host in list(_hosts.values()):
        if url.startswith(host.prefix) and host.loop is loop:
            return host
    return None


async def _send(host: _Host, method: str, url: str, headers: dict[str, str], data: Any = None) -> list[Any]:
    """``[status, parsed JSON body or None]`` of ``method url`` (a URL under ``host.prefix``) served by the
    host's app; POST sends ``data`` as JSON. Raises json.JSONDecodeError for a body that is no JSON (as
    aiohttp's ``response.json()``)."""
    parsed = yarl.URL(url)  # quoted as aiohttp quotes it (an instance id may hold NUL, '#', non-ASCII)
    raw_path = parsed.raw_path
    fields = [(b"host", host.host_header), (b"accept", b"*/*")]
    body = b""
    if method == "POST":
        body = json.dumps(data).encode()
        fields += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    fields += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "headers": fields, "scheme": host.scheme, "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"), "query_string": parsed.raw_query_string.encode("ascii"),
        "server": host.server, "client": ("127.0.0.1", 0), "root_path": "",
    }
    status, content = await _asgi_call(host.app, scope, body)
    content = content.strip()
    return [status, json.loads(content) if content else None]


async def _asgi_call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    """Run one ASGI ``http`` request (``scope``, request ``body``) through ``app``: ``(status, response
    body)``. An exception of the app after or without a response start is answered as
    ``httpx.ASGITransport(raise_app_exceptions=False)`` did: the status sent so far, else 500, with the
    body sent so far (Starlette's ServerErrorMiddleware has sent its 500 page by then). After the request
    body, ``receive`` waits for the response to end and then reports a disconnect (as a server does)."""
    status: int | None = None
    parts: list[bytes] = []
    done = asyncio.Event()
    pending = True

    async def receive() -> dict[str, Any]:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        with suppress(Exception):  # answered below as a server would: the response so far, else 500
            await app(scope, receive, send)
    finally:
        done.set()
    return (500 if status is None else status), b"".join(parts)


def _original(name: str) -> Any:
    fn = _saved.get(name)
    if fn is None:  # unregistered meanwhile: the SDK's own function
        return getattr(importlib.import_module("azure.durable_functions.models.utils.http_utils"), name)
    return fn


async def post_async_request(url: str, data: Any = None, trace_parent: str | None = None,
                             trace_state: str | None = None,
                             function_invocation_id: str | None = None) -> list[Any]:
    """The SDK's ``post_async_request``, in-process for this host's own URLs (module docstring)."""
    host = _local(url)
    if host is None:
        return await _original("post_async_request")(url, data, trace_parent, trace_state,
                                                      function_invocation_id)
    headers = {}
    if trace_parent:
        headers["traceparent"] = trace_parent
    if trace_state:
        headers["tracestate"] = trace_state
    if function_invocation_id:
        headers["X-Azure-Functions-InvocationId"] = function_invocation_id
    return await _send(host, "POST", url, headers, data)


async def get_async_request(url: str, function_invocation_id: str | None = None) -> list[Any]:
    """The SDK's ``get_async_request``, in-process for this host's own URLs (module docstring)."""
    host = _local(url)
    if host is None:
        return await _original("get_async_request")(url, function_invocation_id)
    headers = {"X-Azure-Functions-InvocationId": function_invocation_id} if function_invocation_id else {}
    status, body = await _send(host, "GET", url, headers)
    return [status, "" if body is None else body]


async def delete_async_request(url: str, function_invocation_id: str | None = None) -> list[Any]:
    """The SDK's ``delete_async_request``, in-process for this host's own URLs (module docstring)."""
    host = _local(url)
    if host is None:
        return await _original("delete_async_request")(url, function_invocation_id)
    headers = {"X-Azure-Functions-InvocationId": function_invocation_id} if function_invocation_id else {}
    return await _send(host, "DELETE", url, headers)
