"""The task hub storage interface, its error contract, and the async adapter the hub and dispatcher use.

Modelled on microsoft/durabletask-go ``backend/backend.go``: the store only persists; orchestration
semantics are in :mod:`runtime_state`, work moving in :mod:`dispatcher`. Implementations are synchronous
and used from ONE thread (:class:`AsyncStore` owns it). Every method may raise StoreError (I/O, corrupt
file); other errors are listed per method. All times are aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol, TypeVar

from devhost.durable.models import ActivityWorkItem, EpisodeInput, InstanceState
from devhost.durable.outcome import EpisodeOutcome

T = TypeVar("T")
Event = dict[str, Any]


class TaskHubStore(Protocol):
    """One task hub's persistent state."""

    def create_instance(self, state: InstanceState, start_event: Event) -> None:
        """Create (or replace a terminal) instance in status Pending and queue ``start_event``
        (ExecutionStarted). Replacing deletes the old history, inbox and work items.
        Raises InstanceAlreadyExists when the id exists in a non-terminal status."""

    def get_instance(self, instance_id: str) -> InstanceState | None:
        """The instance, or None."""

    def get_history(self, instance_id: str) -> list[Event]:
        """The current execution's history events in order (empty when unknown)."""

    def query(
        self,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        statuses: list[str] | None,
        instance_id_prefix: str | None,
        top: int | None,
        continuation: str | None,
    ) -> tuple[list[InstanceState], str | None]:
        """Instances ordered by (created_time, instance_id), keyset-paged. Raises ValueError for a bad
        continuation token."""

    def enqueue(self, instance_id: str, event: Event, refuse: frozenset[str] | tuple[str, ...]) -> None:
        """Queue ``event`` for the instance's next episode (visible now). Raises InstanceNotFound, and
        InstanceGone when the instance's status is in ``refuse``."""

    def release_locks(self) -> int:
        """Unlock every activity work item of this hub (called at start: this process is the only worker,
        so a locked item belongs to a crashed run and must run again). Returns how many."""

    def ready_instances(self, now: datetime, limit: int, exclude: set[str]) -> list[str]:
        """Instances with inbox messages visible at ``now`` that an episode can consume (a Suspended
        instance only for resume/terminate), oldest message first, not in ``exclude``."""

    def load_episode(self, instance_id: str, now: datetime) -> EpisodeInput | None:
        """Instance row, history and the inbox messages visible at ``now`` (ExecutionStarted first, then
        arrival order). None when the instance vanished (purged)."""

    def commit_episode(
        self,
        instance_id: str,
        execution_id: str,
        history_len: int,
        outcome: EpisodeOutcome,
        consumed: list[int],
        now: datetime,
    ) -> bool:
        """Persist one episode atomically: history, status, work items, timers, messages to other
        instances, child instances, and deletion of the consumed inbox rows. Returns False (and changes
        nothing) when the instance was purged or restarted since it was loaded."""

    def claim_activities(self, limit: int) -> list[ActivityWorkItem]:
        """Lock and return up to ``limit`` unlocked activity work items, oldest first."""

    def complete_activity(self, item: ActivityWorkItem, event: Event, now: datetime) -> bool:
        """Delete the work item and queue ``event`` (TaskCompleted/TaskFailed) in one transaction. Returns
        False (nothing queued) when the item no longer exists (instance finished, purged or restarted)."""

    def next_visible_at(self, now: datetime) -> datetime | None:
        """Earliest visibility time of a message still invisible at ``now`` (the next durable timer)."""

    def purge(self, instance_id: str) -> int:
        """Delete the instance with its history, inbox and work items. Returns 1, or 0 when unknown."""

    def purge_by(self, *, created_from: datetime, created_to: datetime, statuses: list[str]) -> int:
        """Delete instances created in [from, to] whose status is in ``statuses``; returns how many."""

    def close(self) -> None:
        """Close the database."""


class AsyncStore:
    """Exposes each method of a :class:`TaskHubStore` as a coroutine: ``await store.get_instance(id)``.

    ``inline=True`` (the default) runs calls directly on the event loop's thread: SQLite calls take tens of
    microseconds, while a hop to another thread costs up to the interpreter's GIL switch interval (5 ms)
    whenever replay keeps the loop busy, which made a dedicated store thread the bottleneck. With
    ``inline=False`` a single dedicated thread owns the connection. ``factory`` builds the store (on
    that thread when there is one).
    """

    def __init__(self, factory: Callable[[], Any], *, inline: bool = True) -> None:
        self._executor: ThreadPoolExecutor | None = None
        if inline:
            self._store: Any = factory()
        else:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskhub-store")
            self._store = self._executor.submit(factory).result()

    @property
    def sync(self) -> Any:
        """The underlying store (only call it from the store thread, e.g. via :meth:`call`)."""
        return self._store

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` inline or on the store thread."""
        if self._executor is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._store, name)

        async def run(*args: Any, **kwargs: Any) -> Any:
            return await self.call(method, *args, **kwargs)

        run.__name__ = name
        return run

    async def aclose(self) -> None:
        """Close the store on its thread and stop the thread."""
        await self.call(self._store.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
