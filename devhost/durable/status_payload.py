"""The JSON shapes the Durable HTTP API answers with: instance status, history events, errors, payloads.

Pure functions, no I/O. They mirror the Durable Functions extension (Azure/azure-functions-durable-extension):
``HttpApiHandler.ConvertFrom`` + ``StatusResponsePayload`` for the status object, ``DurableClient``'s history
conversion for ``historyEvents``, ``HttpApiHandler.GetClientResponseLinks`` for the management URLs and
ASP.NET's ``HttpError`` for error bodies. Documented at
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api .
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
DEFAULT_CONNECTION = "Storage"

RUNNING_STATUSES = frozenset({"Running", "Pending", "ContinuedAsNew", "Suspended"})
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})

# DTFx EventType / OrchestrationStatus ints -> names (DurableTask.Core History/EventType.cs,
# OrchestrationStatus.cs); the status API writes names.
EVENT_TYPE_NAMES = (
    "ExecutionStarted", "ExecutionCompleted", "ExecutionFailed", "ExecutionTerminated", "TaskScheduled",
    "TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCreated", "SubOrchestrationInstanceCompleted",
    "SubOrchestrationInstanceFailed", "TimerCreated", "TimerFired", "OrchestratorStarted",
    "OrchestratorCompleted", "EventSent", "EventRaised", "ContinueAsNew", "GenericEvent", "HistoryState",
    "ExecutionSuspended", "ExecutionResumed", "ExecutionRewound",
)
ORCHESTRATION_STATUS_NAMES = {
    0: "Running", 1: "Completed", 2: "ContinuedAsNew", 3: "Failed", 4: "Canceled", 5: "Terminated",
    6: "Pending", 7: "Suspended",
}


def format_time(value: datetime | None) -> str | None:
    """.NET ``ToString("s") + "Z"``: ``2024-01-01T00:00:00Z`` (UTC, whole seconds). None stays None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def parse_json_text(text: str | None) -> Any:
    """EXT ``ParseToJToken``: stored JSON text → value; non-JSON text is returned as the raw string."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def status_object(
    state: Any, *, show_input: bool = True, history_events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The status JSON of one instance (EXT ``StatusResponsePayload``).

    ``state`` is a task hub ``InstanceState`` (``name``, ``instance_id``, ``runtime_status``, ``input``,
    ``output``, ``custom_status`` as JSON text, ``created_time``/``last_updated_time`` UTC datetimes).
    ``historyEvents`` is only present when ``history_events`` is given.
    """
    payload: dict[str, Any] = {
        "name": state.name,
        "instanceId": state.instance_id,
        "runtimeStatus": state.runtime_status,
        "input": parse_json_text(state.input) if show_input else None,
        "customStatus": parse_json_text(state.custom_status),
        "output": parse_json_text(state.output),
        "createdTime": format_time(state.created_time),
        "lastUpdatedTime": format_time(state.last_updated_time),
    }
    if history_events is not None:
        payload["historyEvents"] = history_events
    return payload


def _event_name(value: Any) -> str:
    if isinstance(value, int) and 0 <= value < len(EVENT_TYPE_NAMES):
        return EVENT_TYPE_NAMES[value]
    return str(value)


def history_events(
    history: Iterable[Mapping[str, Any]], *, show_input: bool = True, show_history_output: bool = False
) -> list[dict[str, Any]]:
    """Turn DTFx history events (PascalCase, int ``EventType``) into the status API's ``historyEvents``.

    Mirrors EXT ``DurableClient`` history conversion: ``EventType`` as its name; ``EventId`` and
    ``IsPlayed`` dropped; OrchestratorStarted/Completed removed; a TaskScheduled or
    SubOrchestrationInstanceCreated is merged into its completion/failure as ``FunctionName`` +
    ``ScheduledTime`` (+ ``Input``) and disappears (a still-pending one stays); ExecutionStarted ``Name``
    becomes ``FunctionName`` without OrchestrationInstance/ParentInstance/Version/Tags; ExecutionCompleted
    ``OrchestrationStatus`` as a name; ``Result`` only with ``show_history_output`` and parsed from JSON;
    TimerFired loses ``TimerId``; ``Input`` is dropped everywhere when ``show_input`` is false.
    """
    events = [dict(e) for e in history]
    scheduled: dict[tuple[str, Any], int] = {}
    removed: set[int] = set()
    for index, event in enumerate(events):
        kind = _event_name(event.get("EventType"))
        event["EventType"] = kind
        if kind in ("OrchestratorStarted", "OrchestratorCompleted"):
            removed.add(index)
        elif kind in ("TaskScheduled", "SubOrchestrationInstanceCreated"):
            scheduled[(kind, event.get("EventId"))] = index
            event.pop("Version", None)
        elif kind in ("TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCompleted",
                      "SubOrchestrationInstanceFailed"):
            source = "TaskScheduled" if kind.startswith("Task") else "SubOrchestrationInstanceCreated"
            origin = scheduled.pop((source, event.pop("TaskScheduledId", None)), None)
            if origin is not None:
                first = events[origin]
                event["FunctionName"] = first.get("Name")
                event["ScheduledTime"] = first.get("Timestamp")
                if "Input" in first:
                    event["Input"] = first["Input"]
                removed.add(origin)
            if kind.endswith("Completed"):
                _keep_result(event, show_history_output)
        elif kind == "ExecutionStarted":
            event["FunctionName"] = event.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                event.pop(key, None)
        elif kind == "ExecutionCompleted":
            status = event.get("OrchestrationStatus")
            if isinstance(status, int):
                event["OrchestrationStatus"] = ORCHESTRATION_STATUS_NAMES.get(status, str(status))
            _keep_result(event, show_history_output)
        elif kind == "TimerFired":
            event.pop("TimerId", None)
        event.pop("EventId", None)
        event.pop("IsPlayed", None)
        if not show_input:
            event.pop("Input", None)
    return [e for i, e in enumerate(events) if i not in removed]


def _keep_result(event: dict[str, Any], show_history_output: bool) -> None:
    if show_history_output:
        if "Result" in event:
            event["Result"] = parse_json_text(event["Result"])
    else:
        event.pop("Result", None)


def http_error(message: str, exc: BaseException | None = None, exception_type: str | None = None) -> dict:
    """ASP.NET ``HttpError`` body: ``Message`` (+ ``ExceptionMessage``/``ExceptionType``/``StackTrace``)."""
    body: dict[str, Any] = {"Message": message}
    if exc is not None:
        body["ExceptionMessage"] = str(exc)
        body["ExceptionType"] = exception_type or type(exc).__name__
        body["StackTrace"] = None
    return body


def query_suffix(task_hub: str, connection: str | None = None, code: str | None = None) -> str:
    """``taskHub=…&connection=…[&code=…]`` as EXT appends to every management URL (values URL-encoded)."""
    suffix = f"taskHub={quote_plus(task_hub)}&connection={quote_plus(connection or DEFAULT_CONNECTION)}"
    if code:
        suffix += f"&code={quote_plus(code)}"
    return suffix


def management_urls(origin: str, instance_id: str, suffix: str, *, rewind: bool = False) -> dict[str, str]:
    """EXT ``GetClientResponseLinks``: ``id`` + statusQueryGetUri … resumePostUri.

    ``origin`` is ``scheme://host[:port]`` without a trailing slash; ``instance_id`` is URL-encoded
    (``WebUtility.UrlEncode``) unless it is the SDK's ``INSTANCEID`` placeholder. ``rewindPostUri`` is
    only in the binding's managementUrls (``rewind=True``), not in HTTP 202 payloads.
    """
    prefix = f"{origin.rstrip('/')}{WEBHOOK_PATH}/instances/{quote_plus(instance_id)}"
    urls = {
        "id": instance_id,
        "statusQueryGetUri": f"{prefix}?{suffix}",
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{suffix}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{suffix}",
    }
    if rewind:
        urls["rewindPostUri"] = f"{prefix}/rewind?reason={{text}}&{suffix}"
    urls.update({
        "purgeHistoryDeleteUri": f"{prefix}?{suffix}",
        "restartPostUri": f"{prefix}/restart?{suffix}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{suffix}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{suffix}",
    })
    return urls
