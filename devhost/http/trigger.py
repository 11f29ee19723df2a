"""HTTP triggers: an ASGI request → ``func.HttpRequest`` → invocation → ASGI response.

Mirrors the host + Python worker pipeline (docs/host-behaviour.md#http-triggers; host
``GrpcMessageConversionExtensions.ToRpcHttp``, azure-functions ``http.py``):

* ``req.url`` is ``scheme://<Host header><path>?<query>`` as received; header names lower-cased and
  repeated headers joined with ``,``; query keys with an empty value dropped, repeated keys joined with
  ``,``; the body always ``bytes`` (``get_json`` raises ``ValueError`` on anything but valid JSON);
* the response comes from the ``$return`` http binding or a named ``http`` output; ``func.HttpResponse``
  is encoded by azure-functions' own ``HttpResponseConverter`` (Content-Type from mimetype/charset,
  several ``Set-Cookie``); a ``str`` is 200 ``text/plain; charset=utf-8``; no response set → 200 empty;
* a failed invocation (exception, timeout, unsupported return type) → 500 with an empty body;
* binding data (``trigger_metadata``) = top-level JSON body properties, then route values, ``Query`` and
  ``Headers``;
* no matching route (path, or a method the function does not accept) → 404.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from azure.functions import _abc as azf_abc
from azure.functions.http import HttpRequest, HttpResponseConverter
from starlette.requests import Request
from starlette.responses import Response

from devhost import limits
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError, Invoker
from devhost.functions.loader import methods_of
from devhost.http.routing import Router, RouteTemplateError, full_template

MAX_BODY_BYTES = 100 * 1024 * 1024  # Kestrel MaxRequestBodySize under Core Tools
HOME_PAGE = (
    "<!DOCTYPE html><html><head><title>devhost</title></head><body><h1>Your Functions app is up and "
    "running</h1><p>Served by devhost, a local host for Azure Functions Python apps.</p></body></html>"
)
log = logging.getLogger("Host.General")


def build_router(functions: list[FunctionInfo], route_prefix: str) -> Router:
    """Routes of every HTTP-triggered function in registration order. A template the host would reject
    is logged as an error and that function stays unrouted (the host fails only that function)."""
    router = Router()
    for f in functions:
        if f.trigger_type != "httpTrigger":
            continue
        template = full_template(route_prefix, str(f.trigger.get("route") or f.name))
        try:
            router.add(template, methods_of(f.trigger), f)
        except RouteTemplateError as exc:
            log.error("The function '%s' has an invalid route %r and is not routed: %s",
                      f.name, template, exc)
    return router


def http_url_template(function: FunctionInfo, base_url: str, route_prefix: str) -> str:
    """``http://127.0.0.1:7071/api/<route as written>`` as ``func start`` lists it."""
    route = str(function.trigger.get("route") or function.name)
    return f"{base_url}/{full_template(route_prefix, route)}"


def to_func_request(request: Request, body: bytes, route_values: Mapping[str, str]) -> HttpRequest:
    """The ``func.HttpRequest`` the Python worker would build for this request."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        name = key.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    params: dict[str, str] = {}
    for key, value in parse_qsl(request.url.query, keep_blank_values=False):
        params[key] = f"{params[key]},{value}" if key in params else value
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = f"{request.url.scheme}://{host}{raw_path.decode('latin-1')}"
    if request.url.query:
        url += f"?{request.url.query}"
    return HttpRequest(
        method=request.method.upper(),
        url=url,
        headers=headers,
        params=params,
        route_params=dict(route_values),
        body_type="bytes",
        body=body,
    )


def check_http_value(value: Any) -> None:
    """Raise TypeError (as the worker's encoder does) unless ``value`` is a ``func.HttpResponse`` or str."""
    if not isinstance(value, (azf_abc.HttpResponse, str)):
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "http" for Python type '
            f'"{type(value).__name__}"'
        )


def to_response(value: Any, custom_headers: Mapping[str, str]) -> Response:
    """Encode the function's HTTP output (``func.HttpResponse``, ``str`` or None) as a response."""
    if value is None:
        response = Response(b"", status_code=200)
    elif isinstance(value, str):
        response = Response(value.encode("utf-8"), 200, media_type="text/plain; charset=utf-8")
    else:
        datum = HttpResponseConverter.encode(value, expected_type=None)
        parts = datum.value
        response = Response(parts["body"].value or b"", status_code=int(parts["status_code"].value))
        for name, header in parts["headers"].items():
            response.headers[name] = str(header.value)
        for cookie in parts.get("cookies") or []:
            for morsel in cookie.values():
                response.headers.append("set-cookie", morsel.OutputString())
    for name, header_value in custom_headers.items():
        response.headers[name] = str(header_value)
    return response


class HttpTriggerEndpoint:
    """ASGI fallback of the host app: routes requests to HTTP-triggered functions."""

    def __init__(self, functions: list[FunctionInfo], route_prefix: str, invoker: Invoker,
                 custom_headers: Mapping[str, str], homepage: bool = True) -> None:
        self.router = build_router(functions, route_prefix)
        self.invoker = invoker
        self.custom_headers = dict(custom_headers)
        self.homepage = homepage

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        """Match, invoke and encode; 404 / 413 / 500 as the host answers."""
        matched = self.router.match(request.method, request.url.path)
        if matched is None:
            if request.url.path in ("", "/") and request.method in ("GET", "HEAD") and self.homepage:
                return Response(HOME_PAGE, 200, media_type="text/html")
            return Response(b"", status_code=404)
        function, values = matched
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return Response(b"", status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return Response(b"", status_code=413)
        req = to_func_request(request, body, values)
        args = {str(function.trigger["name"]): req}
        metadata = {**_json_fields(body), **values, "Query": dict(req.params), "Headers": dict(req.headers)}
        try:
            result = await self.invoker.invoke(
                function, args, metadata, trace_parent=request.headers.get("traceparent"),
                check_return=_check_http_outputs,
            )
        except FunctionInvocationError:
            return Response(b"", status_code=500)
        output = _http_output(function, result.return_value, result.outputs)
        try:
            return to_response(output, self.custom_headers)
        except Exception:
            log.exception("Function '%s': the HTTP response could not be encoded", function.name)
            return Response(b"", status_code=500)


def _json_fields(body: bytes) -> dict[str, Any]:
    """Top-level properties of a JSON object body: binding data for expressions such as ``{id}``
    (the host's HTTP trigger binding data; route values take precedence)."""
    if not body or body.lstrip()[:1] != b"{":
        return {}
    try:
        data = limits.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _http_bindings(function: FunctionInfo) -> list[Mapping[str, Any]]:
    return [b for b in function.bindings_of("OUT") if b.get("type") == "http"]


def _http_output(function: FunctionInfo, return_value: Any, outputs: Mapping[str, Any]) -> Any:
    for binding in _http_bindings(function):
        name = str(binding.get("name"))
        if name == "$return":
            return return_value
        if name in outputs:
            return outputs[name]
    return None


def _check_http_outputs(function: FunctionInfo, return_value: Any, outputs: Mapping[str, Any]) -> None:
    """Inside the invocation: an unsupported HTTP output value fails it (→ 500), as in the worker."""
    for binding in _http_bindings(function):
        name = str(binding.get("name"))
        if name == "$return":
            check_http_value(return_value)
        elif name in outputs:
            check_http_value(outputs[name])
