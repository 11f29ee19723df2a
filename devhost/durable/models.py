"""Plain data shapes shared by the task hub's modules: instance state, runtime statuses, work items.

Runtime status names and values are DTFx ``OrchestrationStatus`` (Running 0, Completed 1, ContinuedAsNew 2,
Failed 3, Canceled 4, Terminated 5, Pending 6, Suspended 7); the Python SDK uses the names
(``azure/durable_functions/models/OrchestrationRuntimeStatus.py``). Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUS_VALUES: dict[str, int] = {
    "Running": 0,
    "Completed": 1,
    "ContinuedAsNew": 2,
    "Failed": 3,
    "Canceled": 4,
    "Terminated": 5,
    "Pending": 6,
    "Suspended": 7,
}
STATUS_NAMES: dict[int, str] = {v: k for k, v in STATUS_VALUES.items()}
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
RUNNING_STATUSES = frozenset({"Running", "Pending", "Suspended", "ContinuedAsNew"})


@dataclass(frozen=True)
class InstanceState:
    """One orchestration instance as status queries see it.

    ``input``, ``output`` and ``custom_status`` are JSON text (None when absent). ``input`` is the stored
    ``ExecutionStarted.Input`` (for instances started by the Python client this is a JSON string literal
    holding the double-encoded input, as on Azure, docs/durable-extension-protocol.md#the-durable-client).
    ``output`` of a failed
    instance is the JSON string ``"Orchestrator function 'x' failed: ..."``; of a terminated one the reason.
    ``failure_details`` is a dict ``{"ErrorType", "ErrorMessage"}`` for failed instances.
    """

    instance_id: str
    name: str
    runtime_status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: datetime
    last_updated_time: datetime
    version: str | None = None
    execution_id: str = ""
    parent_instance_id: str | None = None
    failure_details: dict[str, Any] | None = None
    completed_time: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """Completed, Failed, Terminated or Canceled."""
        return self.runtime_status in TERMINAL_STATUSES


@dataclass(frozen=True)
class ActivityWorkItem:
    """An activity to run: ``input`` is the action's JSON text; the result goes back to ``instance_id``
    as TaskCompleted/TaskFailed with ``TaskScheduledId = task_id``."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class InboxMessage:
    """A new event waiting for an orchestration episode (``event`` is a DTFx-shaped history event dict)."""

    id: int
    event: dict[str, Any]


@dataclass
class EpisodeInput:
    """What one episode starts from: the instance row, its persisted history and its visible inbox."""

    instance: InstanceState
    history: list[dict[str, Any]]
    history_texts: list[str]
    messages: list[InboxMessage] = field(default_factory=list)
