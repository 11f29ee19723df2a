"""The task hub storage contract the engine uses, its error contract, and the async adapter around it.

Modelled on microsoft/durabletask-go ``backend/backend.go``: the store only persists; orchestration
semantics are in :mod:`runtime_state`, moving work in :mod:`dispatcher`, the façade in :mod:`hub`. Those
three import the store only through :class:`TaskHubStore` / :class:`AsyncStore` (the extension picks the
implementation: :class:`devhost.durable.sqlite_store.SqliteStore`, or
:class:`devhost.durable.memory_store.MemoryStore` in tests). One conformance suite runs against every
implementation (``tests/devhost/durable/store/test_store_contract.py``, after durabletask-go
``tests/backend_test.go``).

Error contract: every method may raise :class:`~devhost.durable.errors.StoreError` (I/O, corrupt file, a
failed transaction; the cause is chained), reads included; a method that raises changed nothing. Other
errors are listed per method. Implementations are synchronous and used from ONE thread
(:class:`AsyncStore` owns it). All times are aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from devhost.durable.models import ActivityWorkItem, EpisodeInput, InstanceState
from devhost.durable.outcome import EpisodeOutcome

T = TypeVar("T")
Event = dict[str, Any]


@dataclass(frozen=True)
class EpisodeCommit:
    """One episode to persist: ``outcome`` for ``instance_id`` as loaded at ``execution_id`` with
    ``history_len`` events already stored; ``consumed`` are the inbox message ids the episode used."""

    instance_id: str
    execution_id: str
    history_len: int
    outcome: EpisodeOutcome
    consumed: Sequence[int]


@dataclass(frozen=True)
class ActivityResult:
    """A finished activity: its work item and the TaskCompleted / TaskFailed event for its instance."""

    item: ActivityWorkItem
    event: Event


class TaskHubStore(Protocol):
    """One task hub's persistent state: instances, history, the orchestration inbox (timers are inbox
    messages visible later) and activity work items."""

    # -- instances (the hub façade) ----------------------------------------------------------------------
    def create_instance(self, state: InstanceState, start_event: Event) -> None:
        """Create (or replace a terminal) instance in ``state`` and queue ``start_event`` (ExecutionStarted,
        visible at ``state.created_time``). Replacing deletes the old history, inbox and work items.
        Raises InstanceAlreadyExists when the id exists in a non-terminal status."""
        ...

    def get_instance(self, instance_id: str) -> InstanceState | None:
        """The instance, or None."""
        ...

    def get_history(self, instance_id: str) -> list[Event]:
        """The current execution's history events in order (empty when unknown)."""
        ...

    def query(
        self,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        statuses: Sequence[str] | None = None,
        instance_id_prefix: str | None = None,
        top: int | None = None,
        continuation: str | None = None,
    ) -> tuple[list[InstanceState], str | None]:
        """Instances created in [from, to] (inclusive) whose status is in ``statuses`` (any when empty)
        and whose id starts with the prefix, ordered by (created_time, instance_id), at most ``top`` per
        page; returns (page, token for the next page or None). Raises ValueError for a bad token."""
        ...

    def enqueue(self, instance_id: str, event: Event, refuse: Iterable[str] = ()) -> None:
        """Queue ``event`` for the instance's next episode, visible at the event's Timestamp. Raises
        InstanceNotFound, and InstanceGone when the instance's status is in ``refuse``."""
        ...

    def enqueue_entity(self, entity_id: str, name: str, event: Event) -> None:
        """Queue ``event`` (an entity operation) for the entity instance ``entity_id`` (``@name@key``),
        visible at the event's Timestamp. When the instance does not exist it is created first: Running,
        name ``name``, no input, no history, created at the event's Timestamp (an entity exists as soon as
        a message is sent to it, as in the extension)."""
        ...

    def purge(self, instance_id: str) -> int:
        """Delete the instance with its history, inbox and work items. Returns 1, or 0 when unknown."""
        ...

    def purge_by(self, *, created_from: datetime, created_to: datetime, statuses: Sequence[str]) -> int:
        """Delete instances created in [from, to] whose status is in ``statuses``; returns how many."""
        ...

    # -- orchestration work (the dispatcher) ---------------------------------------------------------------
    def ready_instances(self, now: datetime, limit: int, exclude: set[str]) -> list[str]:
        """Up to ``limit`` instances not in ``exclude`` with inbox messages visible at ``now`` that an
        episode can consume (a Suspended instance only for resume or terminate), oldest message first."""
        ...

    def load_episodes(self, instance_ids: Sequence[str], now: datetime) -> list[EpisodeInput]:
        """For each instance that still exists: its row, history (dicts and stored JSON texts) and the inbox
        messages visible at ``now`` (ExecutionStarted first, then arrival order). Vanished ids are left
        out."""
        ...

    def commit_episodes(self, episodes: Sequence[EpisodeCommit], now: datetime) -> list[str]:
        """Persist several episodes in ONE transaction: per episode, the consumed inbox rows are deleted
        and, when ``outcome.state_changed``, history, status, work items, timers, messages to other
        instances, child instances, timer cancellations, and the clean-up of a terminal or
        continued-as-new execution; ``input`` when ``outcome.input_set``. A message to an instance that
        does not exist is dropped, unless it names an entity (``Outbound.entity``): that instance is then
        created as :meth:`enqueue_entity` does. An episode whose instance was purged or restarted since
        it was loaded (other execution id) is skipped. Returns the ids committed."""
        ...

    def next_visible_at(self, now: datetime) -> datetime | None:
        """Earliest visibility time of an inbox message still invisible at ``now`` (the next timer)."""
        ...

    # -- activities (the dispatcher) -----------------------------------------------------------------------
    def release_locks(self) -> int:
        """Unlock every activity work item of this hub (called at start: this process is the only worker,
        so a locked item belongs to a crashed run and must run again). Returns how many."""
        ...

    def claim_activities(self, limit: int) -> list[ActivityWorkItem]:
        """Lock and return up to ``limit`` unlocked activity work items, oldest first."""
        ...

    def complete_activities(self, results: Sequence[ActivityResult], now: datetime) -> int:
        """In ONE transaction, per result: delete its work item and queue its event for the instance
        (visible at ``now``). A result whose item no longer exists (instance finished, purged or restarted)
        queues nothing. Returns how many were queued."""
        ...

    def abandon_activities(self, items: Sequence[ActivityWorkItem]) -> int:
        """Unlock work items whose result could not be recorded, so they run again; returns how many
        still existed."""
        ...

    def close(self) -> None:
        """Release the store's resources; the object is unusable afterwards."""
        ...


class AsyncStore:
    """The :class:`TaskHubStore` methods as coroutines: ``await store.get_instance(id)``.

    ``inline=True`` (the default) runs calls directly on the event loop's thread: SQLite calls take tens of
    microseconds, while a hop to another thread costs up to the interpreter's GIL switch interval (5 ms)
    whenever replay keeps the loop busy, which made a dedicated store thread the bottleneck. With
    ``inline=False`` a single dedicated thread owns the store. ``factory`` builds the store (on that thread
    when there is one). Errors are the store's (see :class:`TaskHubStore`).
    """

    def __init__(self, factory: Callable[[], TaskHubStore], *, inline: bool = True) -> None:
        self._executor: ThreadPoolExecutor | None = None
        if inline:
            self._store: TaskHubStore = factory()
        else:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskhub-store")
            self._store = self._executor.submit(factory).result()

    @property
    def sync(self) -> TaskHubStore:
        """The underlying store (only call it from the store thread, e.g. via :meth:`call`)."""
        return self._store

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` inline or on the store thread."""
        if self._executor is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def create_instance(self, state: InstanceState, start_event: Event) -> None:
        """See :meth:`TaskHubStore.create_instance`."""
        await self.call(self._store.create_instance, state, start_event)

    async def get_instance(self, instance_id: str) -> InstanceState | None:
        """See :meth:`TaskHubStore.get_instance`."""
        return await self.call(self._store.get_instance, instance_id)

    async def get_history(self, instance_id: str) -> list[Event]:
        """See :meth:`TaskHubStore.get_history`."""
        return await self.call(self._store.get_history, instance_id)

    async def query(self, **filters: Any) -> tuple[list[InstanceState], str | None]:
        """See :meth:`TaskHubStore.query` (same keyword arguments)."""
        return await self.call(functools.partial(self._store.query, **filters))

    async def enqueue(self, instance_id: str, event: Event, refuse: Iterable[str] = ()) -> None:
        """See :meth:`TaskHubStore.enqueue`."""
        await self.call(self._store.enqueue, instance_id, event, refuse)

    async def enqueue_entity(self, entity_id: str, name: str, event: Event) -> None:
        """See :meth:`TaskHubStore.enqueue_entity`."""
        await self.call(self._store.enqueue_entity, entity_id, name, event)

    async def purge(self, instance_id: str) -> int:
        """See :meth:`TaskHubStore.purge`."""
        return await self.call(self._store.purge, instance_id)

    async def purge_by(self, *, created_from: datetime, created_to: datetime, statuses: Sequence[str]) -> int:
        """See :meth:`TaskHubStore.purge_by`."""
        return await self.call(functools.partial(
            self._store.purge_by, created_from=created_from, created_to=created_to, statuses=statuses))

    async def ready_instances(self, now: datetime, limit: int, exclude: set[str]) -> list[str]:
        """See :meth:`TaskHubStore.ready_instances`."""
        return await self.call(self._store.ready_instances, now, limit, exclude)

    async def load_episodes(self, instance_ids: Sequence[str], now: datetime) -> list[EpisodeInput]:
        """See :meth:`TaskHubStore.load_episodes`."""
        return await self.call(self._store.load_episodes, instance_ids, now)

    async def commit_episodes(self, episodes: Sequence[EpisodeCommit], now: datetime) -> list[str]:
        """See :meth:`TaskHubStore.commit_episodes`."""
        return await self.call(self._store.commit_episodes, episodes, now)

    async def next_visible_at(self, now: datetime) -> datetime | None:
        """See :meth:`TaskHubStore.next_visible_at`."""
        return await self.call(self._store.next_visible_at, now)

    async def release_locks(self) -> int:
        """See :meth:`TaskHubStore.release_locks`."""
        return await self.call(self._store.release_locks)

    async def claim_activities(self, limit: int) -> list[ActivityWorkItem]:
        """See :meth:`TaskHubStore.claim_activities`."""
        return await self.call(self._store.claim_activities, limit)

    async def complete_activities(self, results: Sequence[ActivityResult], now: datetime) -> int:
        """See :meth:`TaskHubStore.complete_activities`."""
        return await self.call(self._store.complete_activities, results, now)

    async def abandon_activities(self, items: Sequence[ActivityWorkItem]) -> int:
        """See :meth:`TaskHubStore.abandon_activities`."""
        return await self.call(self._store.abandon_activities, items)

    async def aclose(self) -> None:
        """Close the store on its thread and stop the thread."""
        await self.call(self._store.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
