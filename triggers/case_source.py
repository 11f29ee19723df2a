"""Read every case (and its approval tiers) from the task hub, page by page.

The SDK's ``DurableOrchestrationClient.get_status_by`` (azure-functions-durable 1.7.0) reads only the first
page of ``GET instances/`` (it drops the ``x-ms-continuation-token`` response header), so with more
instances than one page (100 by default) it silently misses some. This module asks the same endpoint the
SDK uses, the binding's ``rpcBaseUrl`` + ``instances/`` (Durable Functions HTTP API "Get all instances
status": https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api#get-all-instances-status),
with ``top`` and the continuation header, and follows the pages to the end.

Only JSON goes in and out: each item is the HTTP API's status object (``name``, ``instanceId``,
``runtimeStatus``, ``customStatus``, ``output``, ``createdTime``, ``lastUpdatedTime``), inputs left out.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import azure.durable_functions as df
import httpx

from shared.case_errors import DependencyError

#: Instances asked per page (the extension's default page is 100).
PAGE_SIZE = 500
#: Pages followed at most (bounds one listing to PAGE_SIZE × MAX_PAGES instances).
MAX_PAGES = 200
CONTINUATION_HEADER = "x-ms-continuation-token"


class CaseSourceError(DependencyError, RuntimeError):
    """The task hub's instance listing answered with an error status (the message names it)."""


_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


def _client_for_loop() -> httpx.AsyncClient:
    """One pooled client per event loop (building one costs milliseconds; the app runs on one loop)."""
    loop = asyncio.get_running_loop()
    held = _clients.get(id(loop))
    if held is None or held[0] is not loop or held[1].is_closed:
        for key, (other, _) in list(_clients.items()):
            if other.is_closed():
                del _clients[key]
        held = (loop, httpx.AsyncClient(timeout=30.0))
        _clients[id(loop)] = held
    return held[1]


def rpc_base_url(client: df.DurableOrchestrationClient) -> str:
    """The binding's ``rpcBaseUrl`` (ends with ``/``). The SDK keeps it on a private attribute
    (``_orchestration_bindings.rpc_base_url``); this is the one place that reads it."""
    bindings = getattr(client, "_orchestration_bindings", None)
    url = getattr(bindings, "rpc_base_url", None)
    if not isinstance(url, str) or not url:
        raise CaseSourceError("the durable client binding has no rpcBaseUrl")
    return url if url.endswith("/") else url + "/"


async def list_instances(
    client: df.DurableOrchestrationClient,
    *,
    runtime_statuses: list[str] | None = None,
    page_size: int = PAGE_SIZE,
    http: httpx.AsyncClient | None = None,
) -> list[dict[str, Any]]:
    """Every orchestration instance's status object (all names; inputs not included), following the
    continuation token. ``runtime_statuses`` (e.g. ``["Running"]``) filters on the server. Raises
    :class:`CaseSourceError` on a non-200 answer and ``httpx.HTTPError`` when the endpoint is unreachable."""
    query: dict[str, str] = {"showInput": "false", "top": str(page_size)}
    if runtime_statuses:
        query["runtimeStatus"] = ",".join(runtime_statuses)
    url = f"{rpc_base_url(client)}instances/?{urlencode(query)}"
    session = http or _client_for_loop()
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        headers = {CONTINUATION_HEADER: token} if token else None
        response = await session.get(url, headers=headers)
        if response.status_code != 200:
            raise CaseSourceError(f"listing instances answered {response.status_code}")
        page = response.json()
        if not isinstance(page, list):
            raise CaseSourceError("listing instances did not answer a JSON array")
        items.extend(item for item in page if isinstance(item, dict))
        token = response.headers.get(CONTINUATION_HEADER) or None
        if not token or token == "null":  # the extension sends "null" on the last page
            break
    return items
