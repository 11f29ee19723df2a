"""What an orchestration episode produces, and helpers over the SDK's returned actions.

Shapes consumed by the store (one transaction per :class:`EpisodeOutcome`) and produced by
:mod:`devhost.durable.runtime_state`; action helpers follow the SDK's action JSON
(``azure/durable_functions/models/actions/*.py``,
docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.durable import history as h
from devhost.durable.models import TERMINAL_STATUSES

Event = dict[str, Any]

# actionType values (SDK models/actions/ActionType.py)
CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY, CONTINUE_AS_NEW = 0, 1, 2, 3, 4
CREATE_TIMER, WAIT_EVENT, CALL_ENTITY, CALL_HTTP, SIGNAL_ENTITY, SCHEDULED_SIGNAL = 5, 6, 7, 8, 9, 10
WHEN_ANY, WHEN_ALL = 11, 12
HTTP_ACTIVITY = "BuiltIn::HttpActivity"


@dataclass(frozen=True)
class ActivityTask:
    """Run activity ``name`` with JSON text ``input``; report back as ``TaskScheduledId = task_id``."""

    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class TimerMessage:
    """A delayed message to this instance: ``event`` (TimerFired) becomes visible at ``fire_at`` (UTC)."""

    timer_id: int
    fire_at: datetime
    event: Event


@dataclass(frozen=True)
class Outbound:
    """A new event for another instance (sub-orchestration completion to its parent, rewind of a child)."""

    instance_id: str
    event: Event


@dataclass(frozen=True)
class ChildStart:
    """Start of a sub-orchestration: create instance ``instance_id`` with ``start_event`` (ExecutionStarted
    carrying ParentInstance). ``task_id`` is the parent's sequence number (to fail it if the id is taken)."""

    instance_id: str
    name: str
    version: str | None
    input: str | None
    task_id: int
    start_event: Event


@dataclass
class EpisodeOutcome:
    """Everything one episode persists, atomically (the store commits it in one transaction).

    ``new_history`` (when not None) replaces the whole stored history (continue-as-new starts empty,
    rewind rewrites); otherwise ``append`` is appended. ``output``/``failure`` are set for terminal
    statuses; ``custom_status`` is written only when ``custom_status_set``. ``continue_as_new`` is the
    next execution's ExecutionStarted, queued ahead of other messages.
    """

    runtime_status: str
    append: list[Event] = field(default_factory=list)
    new_history: list[Event] | None = None
    activities: list[ActivityTask] = field(default_factory=list)
    timers: list[TimerMessage] = field(default_factory=list)
    messages: list[Outbound] = field(default_factory=list)
    child_starts: list[ChildStart] = field(default_factory=list)
    cancel_timers: list[int] = field(default_factory=list)
    output: str | None = None
    custom_status: str | None = None
    custom_status_set: bool = False
    failure: dict[str, Any] | None = None
    continue_as_new: Event | None = None
    state_changed: bool = True  # False: only consume the messages (stale events for a finished instance)

    @property
    def is_terminal(self) -> bool:
        """True when the episode finished the instance (Completed, Failed, Terminated, ...)."""
        return self.runtime_status in TERMINAL_STATUSES


@dataclass
class Episode:
    """An episode in progress: ``new_events`` (OrchestratorStarted + consumed messages) are handed to the
    SDK unplayed; ``outcome`` is set when no user code needs to run."""

    now: datetime
    new_events: list[Event]
    needs_user_code: bool
    outcome: EpisodeOutcome | None = None
    base_history: list[Event] | None = None  # rewritten history (rewind), else None
    rewind_work: EpisodeOutcome | None = None


def payload_input(es_input: str | None) -> Any:
    """The payload's ``input`` for ``ExecutionStarted.Input`` text
    (docs/durable-extension-protocol.md#the-orchestration-payload,
    docs/durable-extension-protocol.md#the-durable-client): what the extension's
    ``GetInputAsJson`` yields (the parsed token) when the SDK's ``get_input`` can read it – a string holding
    JSON (the Python client's double encoding) or an object – else the JSON text itself, so numbers,
    arrays and plain strings posted by curl also arrive intact."""
    if es_input is None:
        return None
    try:
        parsed = json.loads(es_input)
    except json.JSONDecodeError:
        return es_input
    if isinstance(parsed, dict):
        return parsed
    if isinstance(parsed, str):
        try:
            json.loads(parsed)
            return parsed
        except json.JSONDecodeError:
            return es_input
    return es_input


def flatten_actions(actions: Any) -> Iterator[dict[str, Any]]:
    """Depth-first leaves of the returned ``actions`` (V1 lists of lists or V2 ``[[…]]``), compounds
    (WhenAny/WhenAll) unwrapped
    (docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions)."""
    if isinstance(actions, list):
        for a in actions:
            yield from flatten_actions(a)
    elif isinstance(actions, dict):
        if actions.get("actionType") in (WHEN_ANY, WHEN_ALL):
            yield from flatten_actions(actions.get("compoundActions") or [])
        else:
            yield actions


def matches(action: dict[str, Any], event: Event) -> bool:
    """Whether a replayed ``action`` (SDK action dict) corresponds to the history ``event`` scheduled for it
    (same kind and name); a mismatch is a non-deterministic orchestrator."""
    t, et = action.get("actionType"), event.get("EventType")
    if t in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY):
        return et == h.TASK_SCHEDULED and event.get("Name") == action.get("functionName")
    if t == CALL_HTTP:
        return et == h.TASK_SCHEDULED and event.get("Name") == HTTP_ACTIVITY
    if t in (CALL_SUB, CALL_SUB_RETRY):
        return et == h.SUB_ORCHESTRATION_CREATED and event.get("Name") == action.get("functionName")
    if t == CREATE_TIMER:
        return et == h.TIMER_CREATED
    return False


def describe_action(action: dict[str, Any]) -> str:
    """A short human name of an SDK action (e.g. ``activity 'Hello'``) for non-determinism errors."""
    t = action.get("actionType")
    if t in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY):
        return f"activity '{action.get('functionName')}'"
    if t in (CALL_SUB, CALL_SUB_RETRY):
        return f"sub-orchestration '{action.get('functionName')}'"
    if t == CREATE_TIMER:
        return "a timer"
    return f"action type {t}"


def describe_event(event: Event) -> str:
    """A short human name of a history event (e.g. ``TaskScheduled 'Hello'``) for non-determinism errors."""
    name = h.EVENT_TYPE_NAMES.get(int(event.get("EventType", -1)), "?")
    return f"{name} '{event['Name']}'" if event.get("Name") else name
