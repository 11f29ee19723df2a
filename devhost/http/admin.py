"""The host's ``/admin`` endpoints that ``func start`` serves locally, plus devhost's virtual clock.

Mirrors the Functions host's ``HostController`` / ``FunctionsController``
(docs/host-behaviour.md#http-triggers); every request is admin-level locally, as under ``func start``:

* ``GET /admin/host/status`` → 200 ``{"id", "state", "version", "versionDetails", "processUptime", ...}``;
* ``GET|POST /admin/host/ping`` → 200;
* ``GET /admin/functions`` → 200 list of function metadata (``name``, ``config.bindings``,
  ``invoke_url_template``, ``language``, ``isDisabled`` ...); ``GET /admin/functions/{name}`` → one, or 404
  (devhost's 404 body lists the known names: ``{"error", "functions": [...]}``);
* ``POST /admin/functions/{name}`` with JSON ``{"input": "<string>"}`` → **202** once the invocation is
  scheduled; 404 unknown function; 400 missing/invalid body. The input becomes the trigger value. A
  function whose trigger an extension owns goes through ``extension.admin_invoke(function, input)`` when
  the extension has it (it schedules the invocation and returns); otherwise the input string is passed as
  the trigger argument. An HTTP function receives a POST ``func.HttpRequest`` with the input as body.

devhost addition (no host equivalent): ``GET /admin/clock`` → ``{"now": ISO-8601 UTC, "kind": "system" |
"virtual", "autoAdvance": bool}``; ``POST /admin/clock`` with ``{"advanceSeconds": n}``,
``{"advanceToNext": true}`` or ``{"autoAdvance": bool}`` → 200 and the new state; 400 for the system clock
or a malformed body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import platform
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol

from azure.functions.http import HttpRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devhost import limits
from devhost.clock import Clock, VirtualClock
from devhost.config import HostConfig
from devhost.extension import Extension
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError, Invoker
from devhost.http.trigger import http_url_template


class AdminView(Protocol):
    """What ``/admin`` reads of the running host, and nothing more (:class:`devhost.host.Host` has it).

    A narrow view instead of the whole host, so this module never imports ``devhost.host``.
    """

    @property
    def instance_id(self) -> str: ...
    @property
    def state(self) -> str: ...  # "Default", "Running", "Stopping", ...
    @property
    def version(self) -> str: ...  # host version string, e.g. "4.0.0-devhost"
    @property
    def base_url(self) -> str: ...  # "http://127.0.0.1:<port>"
    @property
    def config(self) -> HostConfig: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def functions(self) -> Sequence[FunctionInfo]: ...
    @property
    def invoker(self) -> Invoker | None: ...
    @property
    def owners(self) -> Mapping[str, Extension]: ...  # trigger/binding type → owning extension

    def function(self, name: str) -> FunctionInfo | None:
        """The indexed function called ``name`` (case-insensitive), or None."""
        ...

    def uptime_ms(self) -> int:
        """Milliseconds since the host object was created."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; the host waits for it on stop."""
        ...


def admin_routes(host: AdminView) -> list[Route]:
    """Starlette routes of the admin API bound to ``host``."""

    async def status(request: Request) -> Response:
        return JSONResponse({
            "id": host.instance_id[:32],
            "state": host.state,
            "version": host.version,
            "versionDetails": f"{host.version} (devhost, Python {platform.python_version()})",
            "platformVersion": "",
            "instanceId": host.instance_id,
            "computerName": platform.node(),
            "processUptime": host.uptime_ms(),
            "functionAppContentEditingState": "NotAllowed",
        })

    async def ping(request: Request) -> Response:
        return Response(b"", status_code=200)

    async def list_functions(request: Request) -> Response:
        return JSONResponse([_metadata(host, f) for f in host.functions])

    async def get_function(request: Request) -> Response:
        function = host.function(request.path_params["name"])
        if function is None:
            return _unknown_function(host, request.path_params["name"])
        return JSONResponse(_metadata(host, function))

    async def invoke_function(request: Request) -> Response:
        function = host.function(request.path_params["name"])
        if function is None:
            return _unknown_function(host, request.path_params["name"])
        try:
            payload = limits.loads(await request.body() or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return JSONResponse({"error": 'expected a JSON body like {"input": "..."}'}, status_code=400)
        raw = payload.get("input")
        text = raw if isinstance(raw, str) or raw is None else json.dumps(raw)
        try:
            await _schedule(host, function, text or "")
        except (ValueError, NotImplementedError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return Response(b"", status_code=202)

    async def clock_state(request: Request) -> Response:
        return JSONResponse(_clock_json(host))

    async def clock_update(request: Request) -> Response:
        clock = host.clock
        if not isinstance(clock, VirtualClock):
            return JSONResponse({"error": "the host runs on the system clock; start it with "
                                          "--clock virtual or virtual-manual"}, status_code=400)
        try:
            body = limits.loads(await request.body() or b"null")
            if not isinstance(body, dict) or not body:
                raise ValueError("expected advanceSeconds, advanceToNext or autoAdvance")
            if "autoAdvance" in body:
                clock.set_auto_advance(bool(body["autoAdvance"]))
            if "advanceSeconds" in body:
                clock.advance(float(body["advanceSeconds"]))
            if body.get("advanceToNext"):
                clock.advance_to_next()
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(_clock_json(host))

    return [
        Route("/admin/host/status", status, methods=["GET"]),
        Route("/admin/host/ping", ping, methods=["GET", "POST"]),
        Route("/admin/functions", list_functions, methods=["GET"]),
        Route("/admin/functions/{name}", get_function, methods=["GET"]),
        Route("/admin/functions/{name}", invoke_function, methods=["POST"]),
        Route("/admin/clock", clock_state, methods=["GET"]),
        Route("/admin/clock", clock_update, methods=["POST"]),
    ]


def _unknown_function(host: AdminView, name: str) -> Response:
    """404 naming the known functions (the host answers an empty 404; devhost says what would match)."""
    known = sorted(f.name for f in host.functions)
    return JSONResponse({"error": f"no function named {name!r}", "functions": known}, status_code=404)


async def _schedule(host: AdminView, function: FunctionInfo, text: str) -> None:
    """Start an out-of-band invocation of ``function`` with ``text`` as its trigger value."""
    assert host.invoker is not None
    invoker = host.invoker
    owner = host.owners.get(function.trigger_type)
    admin_invoke = getattr(owner, "admin_invoke", None)
    if owner is not None and admin_invoke is not None:
        await admin_invoke(function, text)
        return
    if function.trigger_type == "httpTrigger":
        value: Any = HttpRequest("POST", f"{host.base_url}/admin/functions/{function.name}", headers={},
                                 params={}, route_params={}, body_type="bytes", body=text.encode("utf-8"))
    elif owner is None:
        raise ValueError(f"no extension handles trigger type {function.trigger_type!r}")
    else:
        value = text

    async def run() -> None:
        with contextlib.suppress(FunctionInvocationError):  # already logged as Executed (Failed)
            await invoker.invoke(function, {str(function.trigger["name"]): value})

    host.spawn(run(), name=f"admin-invoke-{function.name}")


def _metadata(host: AdminView, function: FunctionInfo) -> dict[str, Any]:
    base = f"{host.base_url}/admin/functions/{function.name}"
    invoke_url = (http_url_template(function, host.base_url, host.config.route_prefix)
                  if function.trigger_type == "httpTrigger" else None)
    return {
        "name": function.name,
        "script_root_path_href": f"{host.base_url}/admin/vfs/{function.name}/",
        "script_href": f"{host.base_url}/admin/vfs/function_app.py",
        "config_href": None,
        "test_data_href": None,
        "href": base,
        "invoke_url_template": invoke_url,
        "language": "python",
        "config": {"bindings": [dict(b) for b in function.bindings], "scriptFile": "function_app.py"},
        "files": None,
        "test_data": "",
        "isDisabled": host.config.function_disabled(function.name),
        "isDirect": True,
        "isProxy": False,
    }


def _clock_json(host: AdminView) -> dict[str, Any]:
    clock = host.clock
    return {
        "now": clock.now().isoformat().replace("+00:00", "Z"),
        "kind": clock.kind,
        "autoAdvance": bool(getattr(clock, "auto_advance", False)),
    }
