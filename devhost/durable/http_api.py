"""The public Durable HTTP API under ``/runtime/webhooks/durabletask/``, served by devhost's ASGI app.

Mirrors the Durable Functions extension's ``HttpApiHandler`` (Azure/azure-functions-durable-extension,
src/WebJobs.Extensions.DurableTask/HttpApiHandler.cs) and
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api :

- ``POST orchestrators/{fn}[/{id}][?version=&timeout=&pollingInterval=]`` → 202 check-status payload
- ``GET instances/{id}[?showHistory&showHistoryOutput&showInput&returnInternalServerErrorOnFailure]``
- ``GET instances/[?createdTimeFrom&createdTimeTo&runtimeStatus=a,b&instanceIdPrefix&showInput&top]``
  with the ``x-ms-continuation-token`` header both ways
- ``DELETE instances/{id}`` and ``DELETE instances/?createdTimeFrom&createdTimeTo&runtimeStatus``
- ``POST instances/{id}/raiseEvent/{name}``, ``POST instances/{id}/{terminate|suspend|resume|rewind|restart}``
- ``POST|DELETE entities/{name}/{key}[?op=]``, ``GET entities/{name}/{key}``, ``GET entities/{name}``

The same routes are the durable client's RPC endpoint (``rpcBaseUrl`` of the binding, see
:mod:`devhost.durable.client_binding`). Path segments match case-insensitively, like ASP.NET routing; query
keys too (.NET ``NameValueCollection``). ``taskHub``, ``connection`` and ``code`` are accepted and carried
into the management URLs; devhost serves one task hub and does not check keys.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from devhost import limits
from devhost.durable import entities as entity_model
from devhost.durable import errors
from devhost.durable import status_payload as sp

METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]
#: Largest ``top`` accepted by the instance query (larger values would overflow SQLite integers).
MAX_PAGE_SIZE = 10000
DEFAULT_PAGE_SIZE = 100  # EXT OrchestrationStatusQueryCondition.PageSize default
CHECK_STATUS_RETRY_AFTER = "10"
RUNNING_RETRY_AFTER = "5"
CHECK_STATUS_KEYS = (
    "id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri",
    "restartPostUri", "suspendPostUri", "resumePostUri",
)


def routes(get_hub: Callable[[], Any]) -> list[BaseRoute]:
    """Starlette routes serving the Durable HTTP API for the task hub ``get_hub()`` returns.

    ``get_hub`` is called per request, so the routes can be built before the task hub is opened.
    """
    api = DurableHttpApi(get_hub)
    return [
        Route(sp.WEBHOOK_PATH, api.handle, methods=METHODS),
        Route(sp.WEBHOOK_PATH + "/{rest:path}", api.handle, methods=METHODS),
    ]


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    """A JSON response as ASP.NET writes it; ``body=None`` gives an empty body (e.g. a bare 404)."""
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(
        json.dumps(body), status_code=status, headers=headers, media_type="application/json; charset=utf-8"
    )


async def _refuse_unless_live(hub: Any, instance_id: str) -> Response | None:
    """404 for an unknown instance, 410 for a finished one (Completed, Failed, Terminated, Canceled),
    None when a message can still reach it (the extension's checks before raise/terminate/suspend/resume)."""
    state = await hub.get_instance(instance_id)
    if state is None:
        return json_response(404)
    if state.runtime_status in sp.TERMINAL_STATUSES:
        return json_response(410)
    return None


class _Query:
    """Query string with .NET semantics: case-insensitive keys, first value wins."""

    def __init__(self, request: Request) -> None:
        self._values: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            self._values.setdefault(key.lower(), value)

    def get(self, key: str) -> str | None:
        return self._values.get(key.lower())

    def flag(self, key: str, default: bool) -> bool:
        """``bool.TryParse``: "true"/"false" in any case; anything else gives ``default``."""
        value = (self.get(key) or "").strip().lower()
        return {"true": True, "false": False}.get(value, default)

    def integer(self, key: str) -> int | None:
        try:
            return int((self.get(key) or "").strip())
        except ValueError:
            return None

    def seconds(self, key: str) -> float | None:
        try:
            return float((self.get(key) or "").strip())
        except ValueError:
            return None

    def time(self, key: str) -> datetime | None:
        """``DateTime.TryParse`` for ISO-8601 text; naive values are UTC; unparsable → None."""
        text = (self.get(key) or "").strip().replace(" ", "+")  # '+' of an offset decodes to ' '
        if not text:
            return None
        head, _, rest = text.partition("-")
        if head.isdigit() and len(head) < 4:  # Python strftime may drop leading zeros of the year
            text = head.zfill(4) + "-" + rest
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def statuses(self, key: str = "runtimeStatus") -> list[str] | None:
        """Comma-separated runtime status names (unknown names ignored, as ``Enum.TryParse`` does)."""
        known = {name.lower(): name for name in sp.ORCHESTRATION_STATUS_NAMES.values()}
        values = [v.strip().lower() for v in (self.get(key) or "").split(",")]
        found = [known[v] for v in values if v in known]
        return found or None


class DurableHttpApi:
    """Request dispatch and one handler per operation (EXT ``HttpApiHandler.HandleRequestAsync``)."""

    def __init__(self, get_hub: Callable[[], Any]) -> None:
        self._get_hub = get_hub

    async def handle(self, request: Request) -> Response:
        """Route one request; hub errors become the extension's status codes and ``HttpError`` bodies."""
        rest = str(request.path_params.get("rest", "")).strip("/")
        parts = rest.split("/") if rest else []
        lowered = [p.lower() for p in parts]
        method = request.method.upper()
        try:
            if lowered[:1] == ["orchestrators"] and len(parts) in (2, 3):
                if method != "POST":
                    return json_response(404)
                return await self.start(request, parts[1], parts[2] if len(parts) == 3 else None)
            if lowered[:1] == ["entities"] and len(parts) in (2, 3):
                return await self.entities(request, method, parts[1], parts[2] if len(parts) == 3 else None)
            if lowered[:1] == ["instances"] and len(parts) <= 3:
                return await self._instances(request, method, parts[1:], lowered[1:])
            if lowered[:1] == ["instances"] and len(parts) == 4 and lowered[2] == "raiseevent":
                if method != "POST":
                    return json_response(404)
                return await self.raise_event(request, parts[1], parts[3])
            return json_response(404)
        except ValueError as exc:
            return json_response(400, sp.http_error(
                "One or more of the arguments submitted is incorrect", exc, "System.ArgumentException"))
        except Exception as exc:  # the extension answers 500 with the exception's message
            return json_response(500, sp.http_error(
                "Something went wrong while processing your request", exc, type(exc).__name__))

    async def _instances(
        self, request: Request, method: str, parts: list[str], lowered: list[str]
    ) -> Response:
        if not parts:
            if method == "GET":
                return await self.query(request)
            if method == "DELETE":
                return await self.purge_by(request)
            return json_response(404)
        instance_id = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return await self.status(request, instance_id)
            if method == "DELETE":
                return await self.purge(instance_id)
            return json_response(404)
        if method != "POST":
            return json_response(404)
        operation = lowered[1]
        if operation in ("terminate", "suspend", "resume"):
            return await self.lifecycle(request, instance_id, operation)
        if operation == "rewind":
            return await self.rewind(request, instance_id)
        if operation == "restart":
            return await self.restart(request, instance_id)
        return json_response(404)

    # -- payload helpers ------------------------------------------------------------------------------
    @staticmethod
    def _origin(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    def _suffix(self, request: Request) -> str:
        query = _Query(request)
        return sp.query_suffix(query.get("taskHub") or self._get_hub().name, query.get("connection"),
                               query.get("code"))

    def check_status(self, request: Request, instance_id: str) -> Response:
        """EXT ``CreateCheckStatusResponse``: 202, management URLs, ``Location``, ``Retry-After: 10``."""
        urls = sp.management_urls(self._origin(request), instance_id, self._suffix(request))
        body = {key: urls[key] for key in CHECK_STATUS_KEYS}
        return json_response(202, body, {"Location": body["statusQueryGetUri"],
                                         "Retry-After": CHECK_STATUS_RETRY_AFTER})

    async def _wait_or_check_status(self, request: Request, instance_id: str) -> Response:
        """``timeout`` + ``pollingInterval`` (seconds) given: wait like EXT
        ``WaitForCompletionOrCreateCheckStatusResponseAsync``; otherwise the 202 check-status response."""
        query = _Query(request)
        timeout, interval = query.seconds("timeout"), query.seconds("pollingInterval")
        if timeout is None or interval is None:
            return self.check_status(request, instance_id)
        hub = self._get_hub()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if hasattr(hub, "wait_for_completion"):  # poll-free wait, like SupportsPollFreeWait providers
                state = await hub.wait_for_completion(instance_id, max(0.0, remaining))
            else:
                state = await hub.get_instance(instance_id)
            if state is not None and state.runtime_status in sp.TERMINAL_STATUSES:
                if state.runtime_status == "Completed":
                    return json_response(200, sp.parse_json_text(state.output))
                return await self.status(request, instance_id, return_500_on_failure=False)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.check_status(request, instance_id)
            await asyncio.sleep(max(0.0, min(interval, remaining)))

    # -- handlers -------------------------------------------------------------------------------------
    async def start(self, request: Request, function_name: str, instance_id: str | None) -> Response:
        """Start an orchestration: 202 (or the wait result), 400 bad JSON / unknown orchestrator / bad id,
        409 when a non-terminal instance has this id."""
        body = (await request.body()).decode("utf-8-sig")
        input_json: str | None = None
        if body:
            try:
                limits.loads(body)
            except ValueError as exc:
                return json_response(400, sp.http_error(
                    "Invalid JSON content", exc, "Newtonsoft.Json.JsonReaderException"))
            input_json = body
        try:
            new_id = await self._get_hub().start_new(
                function_name, instance_id or None, input_json, _Query(request).get("version"))
        except errors.UnknownOrchestrator as exc:
            return json_response(400, sp.http_error(
                "One or more of the arguments submitted is incorrect", exc, "System.ArgumentException"))
        except errors.InstanceAlreadyExists as exc:
            return json_response(409, sp.http_error(str(exc)))
        return await self._wait_or_check_status(request, new_id)

    async def status(self, request: Request, instance_id: str, return_500_on_failure: bool | None = None
                     ) -> Response:
        """Instance status: 404 unknown; 202 + Location + Retry-After while running; 200 when finished;
        Failed → 200, or 500 with ``returnInternalServerErrorOnFailure=true``."""
        query = _Query(request)
        hub = self._get_hub()
        state = await hub.get_instance(instance_id)
        if state is None:
            return json_response(404)
        show_input = query.flag("showInput", True)
        events = None
        if query.flag("showHistory", False) and state.runtime_status != "Pending":
            events = sp.history_events(await hub.get_history(instance_id), show_input=show_input,
                                       show_history_output=query.flag("showHistoryOutput", False))
        body = sp.status_object(state, show_input=show_input, history_events=events)
        if return_500_on_failure is None:
            return_500_on_failure = query.flag("returnInternalServerErrorOnFailure", False)
        if state.runtime_status in sp.RUNNING_STATUSES:
            headers = {"Location": str(request.url), "Retry-After": RUNNING_RETRY_AFTER}
            return json_response(202, body, headers)
        if state.runtime_status == "Failed" and return_500_on_failure:
            return json_response(500, body)
        return json_response(200, body)

    async def query(self, request: Request) -> Response:
        """List instances: 200 array of status objects + ``x-ms-continuation-token`` when more remain."""
        query = _Query(request)
        top = query.integer("top")
        if (query.get("top") or "").strip() and (top is None or top > MAX_PAGE_SIZE):
            return json_response(400, sp.http_error(f"top must be an integer up to {MAX_PAGE_SIZE}"))
        states, token = await self._get_hub().query(
            created_from=query.time("createdTimeFrom"), created_to=query.time("createdTimeTo"),
            statuses=query.statuses(), instance_id_prefix=query.get("instanceIdPrefix"),
            top=top if top and top > 0 else DEFAULT_PAGE_SIZE,
            continuation=request.headers.get("x-ms-continuation-token") or None,
        )
        show_input = query.flag("showInput", True)
        headers = {"x-ms-continuation-token": token} if token else None
        return json_response(200, [sp.status_object(s, show_input=show_input) for s in states], headers)

    async def entities(self, request: Request, method: str, name: str, key: str | None) -> Response:
        """``GET entities/{name}/{key}`` → 200 the state JSON, 404 no state; ``POST …?op=`` (``DELETE``: op
        ``delete``) → 202 once the signal is queued, 400 unknown entity function or bad JSON;
        ``GET entities/{name}`` → the entity list (EXT ``HttpApiHandler`` entity routes; key ``$`` is the
        empty key)."""
        hub = self._get_hub()
        if key is None:
            return await self.list_entities(request, name) if method == "GET" else json_response(404)
        key = "" if key == "$" else key
        if method == "GET":
            record = await hub.read_entity(name, key)
            if record is None or not record.exists:
                return json_response(404)
            return Response(record.state or "null", 200, media_type="application/json; charset=utf-8")
        if method not in ("POST", "DELETE"):
            return json_response(404)
        operation = "delete" if method == "DELETE" else (_Query(request).get("op") or "")
        try:
            input_text = entity_model.client_input(await request.body(), request.headers.get("content-type"))
        except ValueError as exc:
            return json_response(400, sp.http_error(str(exc)))
        try:
            await hub.signal_entity(name, key, operation, input_text)
        except errors.UnknownEntity as exc:
            return json_response(400, sp.http_error(
                "One or more of the arguments submitted is incorrect", exc, "System.ArgumentException"))
        return json_response(202)

    async def list_entities(self, request: Request, name: str) -> Response:
        """``[{"entityId": {"name", "key"}, "lastOperationTime", "state"}]`` (state only with
        ``fetchState=true``; EXT ``DurableEntityStatus``), ``top`` and ``x-ms-continuation-token`` as for
        instances."""
        query = _Query(request)
        top = query.integer("top")
        if (query.get("top") or "").strip() and (top is None or top > MAX_PAGE_SIZE):
            return json_response(400, sp.http_error(f"top must be an integer up to {MAX_PAGE_SIZE}"))
        records, token = await self._get_hub().list_entities(
            name, top=top if top and top > 0 else DEFAULT_PAGE_SIZE,
            continuation=request.headers.get("x-ms-continuation-token") or None)
        fetch = query.flag("fetchState", False)
        body = [{"entityId": {"name": r.name, "key": r.key},
                 "lastOperationTime": sp.format_time(r.last_operation_time),
                 "state": sp.parse_json_text(r.state) if fetch else None} for r in records]
        return json_response(200, body, {"x-ms-continuation-token": token} if token else None)

    async def purge(self, instance_id: str) -> Response:
        """Purge one instance: 200 ``{"instancesDeleted": 1}``, 404 unknown, 412 not terminal."""
        hub = self._get_hub()
        state = await hub.get_instance(instance_id)
        if state is None:
            return json_response(404)
        if state.runtime_status not in sp.TERMINAL_STATUSES:
            return json_response(412, "Only orchestrations in a terminal state can be purged, but the "
                                      f"orchestration with instance ID {instance_id} has status "
                                      f"{state.runtime_status}")
        deleted = await hub.purge(instance_id)
        return json_response(200 if deleted else 404, {"instancesDeleted": deleted} if deleted else None)

    async def purge_by(self, request: Request) -> Response:
        """Purge by filter: 400 without ``createdTimeFrom``, 404 when nothing matched, else 200."""
        query = _Query(request)
        created_from = query.time("createdTimeFrom")
        if created_from is None:
            return json_response(400, "Please provide value for 'createdTimeFrom' parameter.")
        deleted = await self._get_hub().purge_by(
            created_from=created_from, created_to=query.time("createdTimeTo"), statuses=query.statuses())
        if not deleted:
            return json_response(404)
        return json_response(200, {"instancesDeleted": deleted})

    async def raise_event(self, request: Request, instance_id: str, event_name: str) -> Response:
        """Raise an external event: 202; 404 unknown; 410 finished; 400 not ``application/json`` or bad JSON.

        The event's input is the parsed body re-serialised, so the Python SDK's double-encoded body
        reaches the orchestrator as a string, as on Azure
        (docs/durable-extension-protocol.md#external-events).
        """
        hub = self._get_hub()
        refused = await _refuse_unless_live(hub, instance_id)
        if refused is not None:
            return refused
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return json_response(400, sp.http_error("Only application/json request content is supported"))
        try:
            value = limits.loads((await request.body()).decode("utf-8-sig"))
        except ValueError as exc:
            return json_response(400, sp.http_error(
                "Invalid JSON content", exc, "Newtonsoft.Json.JsonReaderException"))
        try:
            await hub.raise_event(instance_id, event_name, json.dumps(value))
        except errors.InstanceNotFound:
            return json_response(404)
        except errors.InstanceGone:
            return json_response(410)
        return json_response(202)

    async def lifecycle(self, request: Request, instance_id: str, operation: str) -> Response:
        """terminate / suspend / resume: 202; 404 unknown; 410 terminal; 500 when the operation does not
        apply (suspend of a suspended instance, resume of a running one)."""
        hub = self._get_hub()
        refused = await _refuse_unless_live(hub, instance_id)
        if refused is not None:
            return refused
        try:
            await getattr(hub, operation)(instance_id, _Query(request).get("reason"))
        except errors.InstanceNotFound:
            return json_response(404)
        except errors.InstanceGone:
            return json_response(410)
        except errors.InvalidOperation as exc:
            return json_response(500, sp.http_error("Something went wrong while processing your request",
                                                    exc, "System.InvalidOperationException"))
        return json_response(202)

    async def rewind(self, request: Request, instance_id: str) -> Response:
        """Rewind a failed instance: 202; 404 unknown; 412 when it is not Failed (EXT answers
        PreconditionFailed with a message)."""
        hub = self._get_hub()
        state = await hub.get_instance(instance_id)
        if state is None:
            return json_response(404, f'No orchestration with instance ID "{instance_id}" found.')
        if state.runtime_status != "Failed":
            return json_response(412, f"This orchestration has status {state.runtime_status}, but only "
                                      'orchestrations in the "Failed" state can be rewound.')
        try:
            await hub.rewind(instance_id, _Query(request).get("reason"))
        except errors.InstanceNotFound:
            return json_response(404)
        except (errors.InstanceGone, errors.InvalidOperation) as exc:
            return json_response(412, str(exc))
        return json_response(202)

    async def restart(self, request: Request, instance_id: str) -> Response:
        """Restart with the original input: 202 check-status payload of the new instance (or the wait
        result); 400 unknown instance; 409 when a non-terminal instance already has the id."""
        new_id_flag = _Query(request).flag("restartWithNewInstanceId", True)
        try:
            new_id = await self._get_hub().restart(instance_id, new_id_flag)
        except errors.InstanceNotFound as exc:
            return json_response(400, sp.http_error(
                "InstanceId does not match a valid orchestration instance.", exc, "System.ArgumentException"))
        except errors.InstanceAlreadyExists as exc:
            return json_response(409, sp.http_error(
                "A non-terminal instance with this instance ID already exists.", exc,
                "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"))
        return await self._wait_or_check_status(request, new_id)
