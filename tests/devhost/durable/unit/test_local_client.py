"""The Durable client's calls to the host's own API served in-process (devhost.durable.local_client): the
SDK functions' answer shape, the fall-back to the SDK's aiohttp functions for other URLs and other loops,
and the SDK restored when the last host goes."""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from typing import Any

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
