"""The Durable client's calls to the host's own API served in-process (devhost.durable.local_client): the
SDK functions' answer shape, the fall-back to the SDK's aiohttp functions for other URLs and other loops,
and the SDK restored when the last host goes."""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from typing import Any

import httpx
import yarl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devhost.durable import local_client

BASE = "http://127.0.0.1:7999"
SDK = importlib.import_module(local_client._CLIENT_MODULE)


async def _echo(request: Request) -> Response:
    body = await request.body()
    headers = {k: v for k, v in request.headers.items() if not k.startswith("content-")}
    return JSONResponse({"method": request.method, "body": json.loads(body) if body else None,
                         "headers": headers}, status_code=202 if request.method == "POST" else 200)


async def _empty(request: Request) -> Response:
    return Response(status_code=404)


async def _instance(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["id"]})


async def _boom(request: Request) -> Response:
    raise RuntimeError("a bug in the handler")


APP = Starlette(routes=[Route("/runtime/webhooks/durabletask/echo", _echo, methods=["GET", "POST", "DELETE"]),
                        Route("/runtime/webhooks/durabletask/empty", _empty),
                        Route("/runtime/webhooks/durabletask/instances/{id}", _instance),
                        Route("/runtime/webhooks/durabletask/boom", _boom)])


async def _raises(call: Any) -> BaseException | None:
    try:
        await call
    except Exception as exc:
        return exc
    return None


def test_own_urls_go_to_the_app_with_the_sdk_answer_shape() -> None:
    """POST sends JSON with the trace and invocation headers; GET's empty body is ""; a NUL in the URL is
    quoted (%00) as aiohttp does; an app error is
    uvicorn's 500 "Internal Server Error", which the SDK's aiohttp ``response.json()`` cannot parse either."""
    originals = [getattr(SDK, name) for name in local_client._NAMES]

    async def run() -> list[Any]:
        local_client.register(BASE, APP, asyncio.get_running_loop())
        try:
            assert SDK.post_async_request is local_client.post_async_request
            url = f"{BASE}/runtime/webhooks/durabletask/echo"
            return [
                await SDK.post_async_request(url, {"a": 1}, "00-trace-01", "k=v", "inv-1"),
                await SDK.get_async_request(url, "inv-2"),
                await SDK.delete_async_request(url),
                await SDK.get_async_request(f"{BASE}/runtime/webhooks/durabletask/empty"),
                await SDK.get_async_request(f"{BASE}/runtime/webhooks/durabletask/instances/case\x00x"),
                await _raises(SDK.post_async_request(f"{BASE}/runtime/webhooks/durabletask/boom", None)),
            ]
        finally:
            await local_client.unregister(BASE)

    posted, got, deleted, empty, nul, boom = asyncio.run(run())
    assert posted[0] == 202 and posted[1]["body"] == {"a": 1}
    names = ("traceparent", "tracestate", "x-azure-functions-invocationid")
    assert {k: posted[1]["headers"][k] for k in names} == {
        "traceparent": "00-trace-01", "tracestate": "k=v", "x-azure-functions-invocationid": "inv-1"}
    assert got[0] == 200 and got[1]["method"] == "GET"
    assert got[1]["headers"]["x-azure-functions-invocationid"] == "inv-2"
    assert deleted[0] == 200 and deleted[1]["method"] == "DELETE"
    assert empty == [404, ""]
    assert nul == [200, {"id": "case\x00x"}]  # quoted as aiohttp quotes it (%00), not an exception
    assert isinstance(boom, json.JSONDecodeError)
    assert [getattr(SDK, name) for name in local_client._NAMES] == originals  # restored


def test_other_urls_and_other_loops_use_the_sdk_functions() -> None:
    """Another host's URL, or a call made on another event loop, goes to the SDK's own function.

    The SDK's function is replaced by a recorder in ``_saved`` only while this host is registered: the last
    ``unregister`` writes ``_saved`` back into the SDK module, so a recorder left there (or a key put back
    into ``_saved`` after it, as ``monkeypatch.setitem`` did) would answer every later client call in this
    process (an e2e case read as "no case" once the tests ran in another order under pytest-xdist)."""
    originals = [getattr(SDK, name) for name in local_client._NAMES]
    seen: list[str] = []

    async def sdk_get(url: str, function_invocation_id: str | None = None) -> list[Any]:
        seen.append(url)
        return [200, "from the SDK"]

    async def run() -> list[Any]:
        local_client.register(BASE, APP, asyncio.get_running_loop())
        real = local_client._saved["get_async_request"]
        local_client._saved["get_async_request"] = sdk_get
        try:
            elsewhere = await SDK.get_async_request("http://127.0.0.1:8000/runtime/webhooks/durabletask/echo")
            own = f"{BASE}/runtime/webhooks/durabletask/echo"
            other_loop: list[Any] = []
            thread = threading.Thread(
                target=lambda: other_loop.append(asyncio.run(SDK.get_async_request(own))))
            thread.start()
            thread.join()
            return [elsewhere, other_loop[0], (await SDK.get_async_request(own))[1]["method"]]
        finally:
            local_client._saved["get_async_request"] = real
            await local_client.unregister(BASE)

    elsewhere, other_loop, own = asyncio.run(run())
    assert [getattr(SDK, name) for name in local_client._NAMES] == originals and not local_client._saved
    assert elsewhere == other_loop == [200, "from the SDK"]
    assert seen == ["http://127.0.0.1:8000/runtime/webhooks/durabletask/echo",
                    f"{BASE}/runtime/webhooks/durabletask/echo"]
    assert own == "GET"


def test_scope_is_the_one_httpx_asgi_transport_built() -> None:
    """The in-process call's ASGI scope matches what ``httpx.ASGITransport`` (which served these calls
    before) built for the same yarl-quoted URL: path decoded, raw path and query quoted, server and Host
    from the base URL (a default port is None), the request headers; POST bodies arrive whole."""
    seen: list[dict[str, Any]] = []

    async def recorder(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append({**scope, "body": body, "headers": dict(scope["headers"])})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok": 1}'})

    ids = ["case-1", "a b", "é日本", "case\x00x", "x#y", "%2F", "a%zz", "@ent@key", "a+b", "[x]{y}|^`\\~"]
    queries = ["", "?showHistory=False&showInput=True", "?createdTimeFrom=2024-01-01T00:00:00+00:00&x=a b"]

    async def run(base: str) -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=recorder, raise_app_exceptions=False, client=("127.0.0.1", 0))
        local_client.register(base, recorder, asyncio.get_running_loop())
        try:
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                for iid in ids:
                    for query in queries:
                        url = f"{base}/runtime/webhooks/durabletask/instances/{iid}{query}"
                        answer = await SDK.post_async_request(url, {"a": iid}, None, None, "inv")
                        assert answer == [200, {"ok": 1}]
                        await client.post(str(yarl.URL(url)), content=json.dumps({"a": iid}).encode(),
                                          headers={"X-Azure-Functions-InvocationId": "inv",
                                                   "Content-Type": "application/json"})
        finally:
            await local_client.unregister(base)
        return seen

    for base in (BASE, "http://localhost:80"):
        seen.clear()
        scopes = asyncio.run(run(base))
        assert len(scopes) == 2 * len(ids) * len(queries)
        keys = ("type", "method", "scheme", "path", "raw_path", "query_string", "server", "root_path")
        for mine, theirs in zip(scopes[::2], scopes[1::2], strict=True):
            assert {k: mine[k] for k in keys} == {k: theirs[k] for k in keys}
            assert mine["body"] == theirs["body"]
            for name in (b"host", b"content-type", b"content-length", b"x-azure-functions-invocationid"):
                assert mine["headers"][name] == theirs["headers"][name], name
        assert scopes[0]["server"] == (("127.0.0.1", 7999) if base == BASE else ("localhost", None))


def test_app_failures_and_streamed_bodies() -> None:
    """An app that raises before answering is a 500 with no body (the SDK's empty-body shape); one that
    raises after starting keeps its status and the body sent so far; a body sent in chunks is joined; a
    request ``receive`` after the body reports the disconnect only once the response has ended."""
    order: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        await receive()
        if path.endswith("/early"):
            raise RuntimeError("before the response")
        if path.endswith("/chunks"):
            waiter = asyncio.ensure_future(receive())
            await send({"type": "http.response.start", "status": 201, "headers": []})
            for part in (b'{"a":', b' [1, ', b'2]}'):
                await asyncio.sleep(0)
                assert not waiter.done()
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            order.append((await waiter)["type"])
            return
        await send({"type": "http.response.start", "status": 409, "headers": []})
        await send({"type": "http.response.body", "body": b'{"late": true}', "more_body": True})
        raise RuntimeError("after the response started")

    async def run() -> list[Any]:
        local_client.register(BASE, app, asyncio.get_running_loop())
        try:
            root = f"{BASE}/runtime/webhooks/durabletask"
            return [await SDK.get_async_request(f"{root}/early"),
                    await SDK.post_async_request(f"{root}/early"),
                    await SDK.get_async_request(f"{root}/chunks"),
                    await SDK.delete_async_request(f"{root}/late")]
        finally:
            await local_client.unregister(BASE)

    assert asyncio.run(run()) == [[500, ""], [500, None], [201, {"a": [1, 2]}], [409, {"late": True}]]
    assert order == ["http.disconnect"]
