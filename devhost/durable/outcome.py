"""What an orchestration episode produces: the shapes the store commits (one transaction per
:class:`EpisodeOutcome`) and :mod:`devhost.durable.runtime_state` builds. The SDK's action vocabulary is in
:mod:`devhost.durable.actions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.durable.models import TERMINAL_STATUSES

Event = dict[str, Any]

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
    """A new event for another instance (sub-orchestration completion to its parent, rewind of a child, an
    entity operation or its response). ``entity`` names the entity when ``instance_id`` is an entity's
    ``@name@key``: the store then creates the entity's instance when missing (otherwise a message to an
    unknown instance is dropped)."""

    instance_id: str
    event: Event
    entity: str | None = None


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
    input: str | None = None
    input_set: bool = False
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
