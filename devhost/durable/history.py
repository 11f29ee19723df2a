"""Builders and helpers for DTFx-shaped history events, as the Python SDK replays them.

Shape (docs/durable-extension-protocol.md#history-events; DTFx ``src/DurableTask.Core/History/*.cs``; SDK
``models/history/HistoryEvent.py``):
PascalCase keys, integer ``EventType``, ``EventId`` = sequence number for TaskScheduled (4),
SubOrchestrationInstanceCreated (7), TimerCreated (10) and EventSent (14), else -1; ``Timestamp`` is UTC
text with 7 fractional digits (``2024-01-01T00:00:01.0000000Z``, what .NET writes). ``IsPlayed`` is added
when the payload is built (:func:`with_played`), not stored.

Keys starting with ``_`` are devhost bookkeeping (retry chains) that the SDK ignores (extra keys are
accepted); :func:`public_event` removes them for status queries.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

Event = dict[str, Any]

# EventType values (SDK models/history/HistoryEventType.py; DTFx History/EventType.cs)
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_FAILED = 2
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_CREATED = 7
SUB_ORCHESTRATION_COMPLETED = 8
SUB_ORCHESTRATION_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_SENT = 14
EVENT_RAISED = 15
CONTINUE_AS_NEW = 16
GENERIC_EVENT = 17
HISTORY_STATE = 18
EXECUTION_SUSPENDED = 19
EXECUTION_RESUMED = 20
EXECUTION_REWOUND = 21

EVENT_TYPE_NAMES = {
    0: "ExecutionStarted", 1: "ExecutionCompleted", 2: "ExecutionFailed", 3: "ExecutionTerminated",
    4: "TaskScheduled", 5: "TaskCompleted", 6: "TaskFailed", 7: "SubOrchestrationInstanceCreated",
    8: "SubOrchestrationInstanceCompleted", 9: "SubOrchestrationInstanceFailed", 10: "TimerCreated",
    11: "TimerFired", 12: "OrchestratorStarted", 13: "OrchestratorCompleted", 14: "EventSent",
    15: "EventRaised", 16: "ContinueAsNew", 17: "GenericEvent", 18: "HistoryState",
    19: "ExecutionSuspended", 20: "ExecutionResumed", 21: "ExecutionRewound",
}
SCHEDULE_TYPES = frozenset({TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED, TIMER_CREATED, EVENT_SENT})
# Control messages: handled by the host, never by user code.
CONTROL_TYPES = frozenset({EXECUTION_TERMINATED, EXECUTION_SUSPENDED, EXECUTION_RESUMED, EXECUTION_REWOUND})


# -- time ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1024)
def format_timestamp(dt: datetime) -> str:
    """UTC datetime → ``2024-01-01T00:00:01.1234560Z`` (7 digits, .NET round-trip style). Cached: the
    events an episode writes share its time."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_timestamp(text: str) -> datetime:
    """Parse ``…Z`` timestamps with 0–7 fractional digits (``fireAt`` from actions, our own ``Timestamp``s)
    into an aware UTC datetime. A missing zone is taken as UTC (docs/durable-extension-protocol.md#timers).
    Raises ValueError."""
    s = text.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        s = f"{head}.{(digits + '000000')[:6]}{rest}"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def normalize_json(text: str) -> str:
    """Re-serialise JSON text compactly-but-readably (``json.dumps(json.loads(text))``, as the extension
    stores parsed tokens). Raises ValueError when ``text`` is not JSON."""
    try:
        return json.dumps(json.loads(text))
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc


# -- builders --------------------------------------------------------------------------------------------
def _base(event_type: int, ts: datetime, event_id: int = -1, **fields: Any) -> Event:
    """``{EventType, EventId, Timestamp}`` followed by ``fields`` (the event type's own keys, in order)."""
    return {"EventType": event_type, "EventId": event_id, "Timestamp": format_timestamp(ts), **fields}


def orchestrator_started(ts: datetime) -> Event:
    """``OrchestratorStarted`` (opens each episode; its Timestamp is ``current_utc_datetime``)."""
    return _base(ORCHESTRATOR_STARTED, ts)


def orchestrator_completed(ts: datetime) -> Event:
    """``OrchestratorCompleted`` (closes each episode)."""
    return _base(ORCHESTRATOR_COMPLETED, ts)


def execution_started(
    ts: datetime,
    name: str,
    instance_id: str,
    execution_id: str,
    input_json: str | None,
    version: str = "",
    parent: dict[str, Any] | None = None,
) -> Event:
    """``ExecutionStarted``; ``parent`` = ``{"Name","Version","OrchestrationInstance":{...},
    "TaskScheduleId"}`` for a sub-orchestration (DTFx ParentInstance)."""
    return _base(
        EXECUTION_STARTED,
        ts,
        Name=name,
        Version=version or "",
        Input=input_json,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
    )


def execution_completed(ts: datetime, status: int, result: str | None, failure: dict | None = None) -> Event:
    """``ExecutionCompleted{OrchestrationStatus (int), Result, FailureDetails}``."""
    return _base(EXECUTION_COMPLETED, ts, OrchestrationStatus=status, Result=result, FailureDetails=failure)


def execution_terminated(ts: datetime, reason: str | None) -> Event:
    """``ExecutionTerminated{Input}``: the terminate reason travels in ``Input``, as in DTFx."""
    return _base(EXECUTION_TERMINATED, ts, Input=reason)


def execution_suspended(ts: datetime, reason: str | None) -> Event:
    """``ExecutionSuspended{Reason}``."""
    return _base(EXECUTION_SUSPENDED, ts, Reason=reason)


def execution_resumed(ts: datetime, reason: str | None) -> Event:
    """``ExecutionResumed{Reason}``."""
    return _base(EXECUTION_RESUMED, ts, Reason=reason)


def execution_rewound(ts: datetime, reason: str | None) -> Event:
    """``ExecutionRewound{Reason}``."""
    return _base(EXECUTION_REWOUND, ts, Reason=reason)


def task_scheduled(ts: datetime, event_id: int, name: str, input_json: str | None) -> Event:
    """``TaskScheduled{Name, Version, Input}`` with ``EventId`` = the task's sequence number."""
    return _base(TASK_SCHEDULED, ts, event_id, Name=name, Version="", Input=input_json)


def task_completed(ts: datetime, task_id: int, result: str | None) -> Event:
    """``TaskCompleted{TaskScheduledId, Result}`` (``Result``: JSON text or None)."""
    return _base(TASK_COMPLETED, ts, TaskScheduledId=task_id, Result=result)


def task_failed(ts: datetime, task_id: int, reason: str, details: str | None) -> Event:
    """``TaskFailed{TaskScheduledId, Reason, Details}``."""
    return _base(TASK_FAILED, ts, TaskScheduledId=task_id, Reason=reason, Details=details)


def sub_orchestration_created(
    ts: datetime, event_id: int, name: str, version: str | None, instance_id: str, input_json: str | None
) -> Event:
    """``SubOrchestrationInstanceCreated{Name, Version, InstanceId, Input}`` with ``EventId`` = sequence
    number."""
    return _base(
        SUB_ORCHESTRATION_CREATED, ts, event_id,
        Name=name, Version=version or "", InstanceId=instance_id, Input=input_json,
    )


def sub_orchestration_completed(ts: datetime, task_id: int, result: str | None) -> Event:
    """``SubOrchestrationInstanceCompleted{TaskScheduledId, Result}``."""
    return _base(SUB_ORCHESTRATION_COMPLETED, ts, TaskScheduledId=task_id, Result=result)


def sub_orchestration_failed(ts: datetime, task_id: int, reason: str, details: str | None) -> Event:
    """``SubOrchestrationInstanceFailed{TaskScheduledId, Reason, Details}``."""
    return _base(SUB_ORCHESTRATION_FAILED, ts, TaskScheduledId=task_id, Reason=reason, Details=details)


def timer_created(ts: datetime, event_id: int, fire_at: datetime) -> Event:
    """``TimerCreated{FireAt}`` with ``EventId`` = sequence number (``fire_at`` UTC)."""
    return _base(TIMER_CREATED, ts, event_id, FireAt=format_timestamp(fire_at))


def timer_fired(ts: datetime, timer_id: int, fire_at: datetime) -> Event:
    """``TimerFired{TimerId, FireAt}`` (``fire_at`` UTC)."""
    return _base(TIMER_FIRED, ts, TimerId=timer_id, FireAt=format_timestamp(fire_at))


def event_sent(ts: datetime, event_id: int, instance_id: str, name: str, input_json: str | None) -> Event:
    """``EventSent{InstanceId, Name, Input}`` with ``EventId`` = sequence number: a message the orchestration
    sent, e.g. an entity operation (``Name`` "op", ``Input`` the RequestMessage JSON,
    docs/durable-extension-protocol.md#entities)."""
    return _base(EVENT_SENT, ts, event_id, InstanceId=instance_id, Name=name, Input=input_json)


def event_raised(ts: datetime, name: str, input_json: str | None) -> Event:
    """``EventRaised{Name, Input}`` (``Input``: JSON text or None)."""
    return _base(EVENT_RAISED, ts, Name=name, Input=input_json)


# -- helpers ---------------------------------------------------------------------------------------------
def with_played(event: Event, played: bool) -> Event:
    """A copy with ``IsPlayed`` set (docs/durable-extension-protocol.md#replay: true for earlier episodes,
    false for the current one)."""
    e = dict(event)
    e["IsPlayed"] = played
    return e


def public_event(event: Event) -> Event:
    """The event without devhost bookkeeping keys (those starting with ``_``)."""
    return {k: v for k, v in event.items() if not k.startswith("_")}


def event_time(event: Event) -> datetime:
    """An event's ``Timestamp`` as an aware UTC datetime. Raises ValueError for a malformed one."""
    return parse_timestamp(str(event["Timestamp"]))


def add_ms(ts: datetime, ms: float) -> datetime:
    """``ts`` plus ``ms`` milliseconds."""
    return ts + timedelta(milliseconds=ms)


def describe_event(event: Event) -> str:
    """A short human name of a history event (e.g. ``TaskScheduled 'Hello'``) for non-determinism errors."""
    name = EVENT_TYPE_NAMES.get(int(event.get("EventType", -1)), "?")
    return f"{name} '{event['Name']}'" if event.get("Name") else name
