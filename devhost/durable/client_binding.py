"""The ``durableClient`` input binding: the JSON string the SDK builds ``DurableOrchestrationClient`` from.

Mirrors the extension's ``BindingHelper`` / ``OrchestrationClientInputData`` (Azure/azure-functions-durable-
extension, src/WebJobs.Extensions.DurableTask/Bindings/BindingHelper.cs) as read by the SDK's
``DurableOrchestrationBindings.from_json`` (azure-functions-durable 1.7.0,
azure/durable_functions/models/DurableOrchestrationBindings.py). ``taskHubName``, ``creationUrls`` and
``managementUrls`` are required by the SDK; ``rpcBaseUrl`` is where every client call goes. On Azure that
is a private listener (``http://127.0.0.1:17071/durabletask/``); devhost points it at its own
``/runtime/webhooks/durabletask/`` routes (:mod:`devhost.durable.http_api`), which answer the same calls.

The SDK keeps one module-global aiohttp session, so client functions must run on one long-lived event
loop (devhost's host loop) while the management routes keep serving
(docs/durable-extension-protocol.md#the-durable-client).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from devhost.durable import status_payload as sp

INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
MAX_GRPC_MESSAGE_SIZE_BYTES = 4 * 1024 * 1024
GRPC_HTTP_CLIENT_TIMEOUT = "00:01:40"


def binding_data(hub_name: str, base_url: str, binding: Mapping[str, Any] | None = None,
                 code: str | None = None) -> dict[str, Any]:
    """The binding payload as a dict.

    ``hub_name`` is the task hub's name, ``base_url`` the host's origin (``http://127.0.0.1:7071``, no
    trailing slash), ``binding`` the function's durableClient binding dict (its ``taskHub`` and
    ``connectionName`` keys are honoured in the URLs), ``code`` an optional system key to append.
    """
    binding = binding or {}
    task_hub = str(binding.get("taskHub") or hub_name)
    connection = binding.get("connectionName") or None
    origin = base_url.rstrip("/")
    webhook = origin + sp.WEBHOOK_PATH
    required = f"code={code}" if code else ""
    creation_suffix = f"?{required}" if required else ""
    and_required = f"&{required}" if required else ""
    return {
        "taskHubName": task_hub,
        "connectionName": connection,
        "creationUrls": {
            "createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
                                        f"{creation_suffix}",
            "createAndWaitOnNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
                                                 "?timeout={timeoutInSeconds}&pollingInterval="
                                                 f"{{intervalInSeconds}}{and_required}",
        },
        "managementUrls": sp.management_urls(
            origin, INSTANCE_ID_PLACEHOLDER, sp.query_suffix(task_hub, connection, code), rewind=True),
        "baseUrl": webhook,
        "requiredQueryStringParameters": required,
        "rpcBaseUrl": webhook + "/",
        "httpBaseUrl": webhook + "/",
        "maxGrpcMessageSizeInBytes": MAX_GRPC_MESSAGE_SIZE_BYTES,
        "grpcHttpClientTimeout": GRPC_HTTP_CLIENT_TIMEOUT,
    }


def binding_json(hub: Any, base_url: str, binding: Mapping[str, Any] | None = None) -> str:
    """The durableClient binding value handed to the client function (a JSON string).

    ``hub`` is the :class:`devhost.durable.hub.TaskHub` (only its ``name`` is read). The SDK's
    ``df_client_middleware`` turns it into ``DurableOrchestrationClient(json_str)``. Called on the host's
    event loop, it also drops an SDK HTTP session left over from an earlier loop (see
    :func:`reset_sdk_session_if_foreign`).
    """
    reset_sdk_session_if_foreign()
    return json.dumps(binding_data(hub.name, base_url, binding))


def reset_sdk_session_if_foreign() -> bool:
    """Forget the SDK's module-global aiohttp session when it belongs to another (or a closed) event loop.

    ``azure.durable_functions.models.utils.http_utils`` keeps one ``ClientSession`` (and one
    ``asyncio.Lock``) for the process; after a host stops and another starts in the same process (tests,
    benchmarks) every client call would fail with "Event loop is closed"
    (docs/durable-extension-protocol.md#the-durable-client).
    Returns True when it reset them. Does nothing outside a running loop.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    from azure.durable_functions.models.utils import http_utils

    session = http_utils._client_session
    if session is None:
        return False
    if not session.closed and getattr(session, "_loop", loop) is loop:
        return False
    http_utils._client_session = None
    http_utils._session_lock = asyncio.Lock()
    return True


async def close_sdk_session() -> None:
    """Close the SDK's aiohttp session if it was opened on the running loop (call on host stop, so no
    "Unclosed client session" warning is left behind); a session of another loop is just forgotten."""
    from azure.durable_functions.models.utils import http_utils

    session = http_utils._client_session
    if session is None:
        return
    if not session.closed and getattr(session, "_loop", None) is asyncio.get_running_loop():
        await session.close()
    http_utils._client_session = None
    http_utils._session_lock = asyncio.Lock()
