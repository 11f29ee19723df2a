"""triggers/case_source.py follows the Durable HTTP API's continuation token to the last page."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest

from triggers.case_source import CONTINUATION_HEADER as TOKEN
from triggers.case_source import CaseSourceError, list_instances


def _client(base: str = "http://host/runtime/webhooks/durabletask/") -> SimpleNamespace:
    return SimpleNamespace(_orchestration_bindings=SimpleNamespace(rpc_base_url=base))


def test_pages_are_followed_until_no_token() -> None:
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("x-ms-continuation-token")
        seen.append((str(request.url), token))
        if token is None:
            return httpx.Response(200, json=[{"instanceId": "a"}], headers={TOKEN: "t1"})
        if token == "t1":
            return httpx.Response(200, json=[{"instanceId": "b"}], headers={TOKEN: "null"})
        return httpx.Response(500)

    async def run() -> list[dict]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            return await list_instances(_client(), runtime_statuses=["Running"], page_size=1, http=http)

    items = asyncio.run(run())
    assert [i["instanceId"] for i in items] == ["a", "b"]
    assert seen[0][0] == ("http://host/runtime/webhooks/durabletask/instances/"
                          "?showInput=false&top=1&runtimeStatus=Running")
    assert [t for _, t in seen] == [None, "t1"]


def test_an_error_status_is_raised() -> None:
    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as http:
            await list_instances(_client(), http=http)

    with pytest.raises(CaseSourceError, match="503"):
        asyncio.run(run())
