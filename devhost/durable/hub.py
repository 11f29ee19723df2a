"""The task hub façade: what the Durable HTTP API, the durable client binding and the operator CLI call.

Thin: it validates, stamps times with the host clock, writes messages through the store and wakes the
dispatcher; orchestration semantics live in :mod:`runtime_state`, persistence in :mod:`sqlite_store`.
Operations on running instances (raise event, terminate, suspend, resume, rewind) are queued as new
events and take effect in the instance's next episode, as in DTFx (the HTTP API answers 202).

Errors (see :mod:`devhost.durable.errors`): each method lists what it raises; every method may also raise
StoreError. Mirrors ``DurableClient`` of the extension
(src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableClient.cs) and DTFx ``TaskHubClient``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from devhost.durable import entities
from devhost.durable import history as h
from devhost.durable.errors import (
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
    UnknownEntity,
    UnknownOrchestrator,
)
from devhost.durable.models import TERMINAL_STATUSES, InstanceState

if TYPE_CHECKING:
    from devhost.clock import Clock
    from devhost.durable.store import AsyncStore

__all__ = ["InstanceState", "TaskHub", "validate_instance_id"]

_BAD_ID_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f]")


def validate_instance_id(instance_id: str) -> None:
    """Reject what the extension rejects (DurableClient.cs ``StartNewAsync``): empty, leading ``@``,
    ``/ \\ # ?``, control characters, longer than 256. Raises ValueError with the reason."""
    if not instance_id:
        raise ValueError("Instance ID must not be empty.")
    if len(instance_id) > 256:
        raise ValueError("Instance ID length must not exceed 256 characters.")
    if instance_id.startswith("@"):
        raise ValueError(f"Orchestration instance ids must not start with @. Invalid ID: '{instance_id}'")
    if _BAD_ID_CHARS.search(instance_id):
        raise ValueError(
            f"Orchestration instance ids must not contain /, \\, #, ? or control characters. "
            f"Invalid ID: '{instance_id}'"
        )


class TaskHub:
    """One task hub (``extensions.durableTask.hubName``) of a running devhost.

    ``orchestrators`` are the app's orchestrator function names; ``entities`` its entity names
    (lower-case); ``default_version`` is host.json ``defaultVersion`` (stamped on new instances without an
    explicit version, SDK 1.7 versioning).
    """

    def __init__(
        self,
        name: str,
        store: AsyncStore,
        clock: Clock,
        orchestrators: set[str],
        *,
        default_version: str | None = None,
        wake: Callable[[], None] = lambda: None,
        entity_names: set[str] | None = None,
    ) -> None:
        self.name = name
        self.entity_names = {n.lower() for n in entity_names or ()}
        self.store = store
        self.clock = clock
        self.orchestrators = set(orchestrators)
        self.default_version = default_version
        self._wake = wake
        self._changed: dict[str, asyncio.Event] = {}

    # -- starting ----------------------------------------------------------------------------------------
    async def start_new(
        self,
        orchestrator: str,
        instance_id: str | None,
        input_json: str | None,
        version: str | None = None,
    ) -> str:
        """Create a Pending instance of ``orchestrator`` and queue its ExecutionStarted; returns the id.

        ``input_json`` is JSON text stored as ``ExecutionStarted.Input`` (None → no input); ``instance_id``
        None → a new ``uuid4().hex``; ``version`` None → ``default_version``.
        Raises UnknownOrchestrator, ValueError (bad instance id or input not JSON), InstanceAlreadyExists
        (an instance with that id is Running/Pending/Suspended/ContinuedAsNew).
        """
        if orchestrator not in self.orchestrators:
            raise UnknownOrchestrator(orchestrator)
        iid = instance_id if instance_id is not None else uuid.uuid4().hex
        validate_instance_id(iid)
        if input_json is not None:
            input_json = h.normalize_json(input_json)
        now = self.clock.now()
        exec_id = uuid.uuid4().hex
        ver = version if version is not None else self.default_version
        event = h.execution_started(now, orchestrator, iid, exec_id, input_json, ver or "")
        state = InstanceState(
            instance_id=iid,
            name=orchestrator,
            runtime_status="Pending",
            input=input_json,
            output=None,
            custom_status=None,
            created_time=now,
            last_updated_time=now,
            version=ver,
            execution_id=exec_id,
        )
        await self.store.create_instance(state, event)
        self._notify(iid)
        return iid

    # -- reading -----------------------------------------------------------------------------------------
    async def get_instance(self, instance_id: str) -> InstanceState | None:
        """The instance's state, or None when unknown."""
        return await self.store.get_instance(instance_id)

    async def get_history(self, instance_id: str) -> list[dict[str, Any]]:
        """The current execution's history as DTFx-shaped dicts (PascalCase keys, integer EventType,
        ``Timestamp`` strings), devhost-internal keys removed. Raises InstanceNotFound."""
        if await self.store.get_instance(instance_id) is None:
            raise InstanceNotFound(instance_id)
        return [h.public_event(e) for e in await self.store.get_history(instance_id)]

    async def query(
        self,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        statuses: list[str] | None = None,
        instance_id_prefix: str | None = None,
        top: int | None = None,
        continuation: str | None = None,
    ) -> tuple[list[InstanceState], str | None]:
        """Instances filtered by creation time (inclusive, UTC), runtime status names and id prefix,
        ordered by creation time; at most ``top`` per page. Returns (page, continuation token or None).
        Raises ValueError for an unreadable continuation token."""
        return await self.store.query(
            created_from=created_from,
            created_to=created_to,
            statuses=statuses,
            instance_id_prefix=instance_id_prefix,
            top=top,
            continuation=continuation,
        )

    # -- messages to running instances -------------------------------------------------------------------
    async def raise_event(self, instance_id: str, name: str, input_json: str | None) -> None:
        """Queue ``EventRaised{Name, Input}`` (``input_json`` is JSON text; None → null).
        Raises InstanceNotFound, InstanceGone (Completed/Failed/Terminated/Canceled), ValueError (not
        JSON)."""
        if input_json is not None:
            input_json = h.normalize_json(input_json)
        event = h.event_raised(self.clock.now(), name, input_json)
        await self.store.enqueue(instance_id, event, refuse=TERMINAL_STATUSES)
        self._wake()

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        """Queue ExecutionTerminated; the instance ends Terminated with ``output`` = reason, without
        running user code. Raises InstanceNotFound, InstanceGone (already terminal)."""
        event = h.execution_terminated(self.clock.now(), reason)
        await self.store.enqueue(instance_id, event, refuse=TERMINAL_STATUSES)
        self._wake()

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        """Queue ExecutionSuspended: new events are held until resumed.
        Raises InstanceNotFound, InstanceGone (terminal), InvalidOperation (already Suspended)."""
        state = await self._require(instance_id)
        if state.runtime_status == "Suspended":
            raise InvalidOperation(f"Instance '{instance_id}' is already suspended.")
        await self.store.enqueue(
            instance_id, h.execution_suspended(self.clock.now(), reason), refuse=TERMINAL_STATUSES
        )
        self._wake()

    async def resume(self, instance_id: str, reason: str | None) -> None:
        """Queue ExecutionResumed. Raises InstanceNotFound, InstanceGone (terminal), InvalidOperation
        (not Suspended)."""
        state = await self._require(instance_id)
        if state.runtime_status != "Suspended":
            raise InvalidOperation(
                f"Instance '{instance_id}' cannot be resumed: it is {state.runtime_status}, not Suspended."
            )
        await self.store.enqueue(
            instance_id, h.execution_resumed(self.clock.now(), reason), refuse=TERMINAL_STATUSES
        )
        self._wake()

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Queue a rewind of a Failed instance: its failed activities run again and failed
        sub-orchestrations are rewound. Raises InstanceNotFound, InstanceGone (Completed/Terminated/
        Canceled: "only supported on failed orchestration instances"), InvalidOperation (Running/Pending/
        Suspended)."""
        state = await self._require(instance_id)
        if state.runtime_status != "Failed":
            if state.runtime_status in TERMINAL_STATUSES:
                raise InstanceGone(
                    instance_id,
                    state.runtime_status,
                    f"Instance {instance_id} is {state.runtime_status}: rewind is only supported on "
                    "failed orchestration instances.",
                )
            raise InvalidOperation(
                f"Instance '{instance_id}' is {state.runtime_status}; only Failed instances can be rewound."
            )
        await self.store.enqueue(instance_id, h.execution_rewound(self.clock.now(), reason), refuse=())
        self._wake()

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        """Start the instance's orchestrator again with its original input and version; returns the new
        instance's id (a fresh one when ``new_instance_id``, else the same id).
        Raises InstanceNotFound, InstanceAlreadyExists (same id while it still runs)."""
        state = await self._require(instance_id)
        target = None if new_instance_id else instance_id
        if state.name not in self.orchestrators:
            raise UnknownOrchestrator(state.name)
        return await self.start_new(state.name, target, state.input, state.version or "")

    async def purge(self, instance_id: str) -> int:
        """Delete the instance, its history and queued work; returns 1, or 0 when unknown."""
        return await self.store.purge(instance_id)

    async def purge_by(
        self,
        *,
        created_from: datetime,
        created_to: datetime | None = None,
        statuses: list[str] | None = None,
    ) -> int:
        """Delete instances created in [created_from, created_to] (default now) whose status is in
        ``statuses`` (default: every terminal status); returns how many. Running instances are only
        purged when ``statuses`` names their status explicitly."""
        return await self.store.purge_by(
            created_from=created_from,
            created_to=created_to or self.clock.now(),
            statuses=list(statuses) if statuses else sorted(TERMINAL_STATUSES),
        )

    # -- entities (docs/durable-extension-protocol.md#entities) ------------------------------------------
    async def signal_entity(self, name: str, key: str, operation: str, input_text: str | None) -> None:
        """Queue a one-way operation for entity ``name``/``key`` (created by its first message);
        ``input_text`` is the RequestMessage input (:func:`entities.client_input`). Raises UnknownEntity
        (no entity function of that name, as the extension's client refuses it), ValueError (empty
        name; a key with ``/ \\ # ?`` or control characters, as EXT
        ``DurableClient.SignalEntityAsyncInternal``)."""
        if _BAD_ID_CHARS.search(key):
            raise ValueError("Entity keys must not contain /, \\, #, ?, or control characters.")
        entity_id = entities.scheduler_id(name, key)
        if name.lower() not in self.entity_names:
            raise UnknownEntity(entities.unknown_entity_message(name, sorted(self.entity_names)), name)
        message = entities.request_message(operation, input_text, signal=True, parent=None)
        event = h.event_raised(self.clock.now(), entities.OPERATION, message)
        await self.store.enqueue_entity(entity_id, name.lower(), event)
        self._wake()

    async def read_entity(self, name: str, key: str) -> entities.EntityRecord | None:
        """The entity's record, or None when it has never received a message. Raises ValueError (empty
        name)."""
        state = await self.store.get_instance(entities.scheduler_id(name, key))
        return None if state is None else entities.entity_record(state)

    async def list_entities(self, name: str, *, top: int | None = None, continuation: str | None = None,
                            ) -> tuple[list[entities.EntityRecord], str | None]:
        """Entities named ``name`` that have state, ordered by creation, at most ``top`` instances
        scanned per page; (records, continuation token or None). Raises ValueError (bad token)."""
        page, token = await self.store.query(instance_id_prefix=entities.scheduler_id(name, ""), top=top,
                                             continuation=continuation)
        return entities.entity_records(page), token

    # -- waiting -----------------------------------------------------------------------------------------
    async def wait_for_change(self, instance_id: str, timeout_s: float) -> InstanceState | None:
        """Wait (real time, at most ``timeout_s``) until the instance's next committed episode, then
        return its state (None if unknown). Used by wait-for-completion and tests."""
        ev = self._changed.setdefault(instance_id, asyncio.Event())
        try:
            await asyncio.wait_for(ev.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            if self._changed.get(instance_id) is ev and ev.is_set():
                self._changed.pop(instance_id, None)
        return await self.get_instance(instance_id)

    async def wait_for_completion(self, instance_id: str, timeout_s: float) -> InstanceState | None:
        """Wait until the instance is terminal (real time, at most ``timeout_s``); returns the last state
        seen (None if unknown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        state = await self.get_instance(instance_id)
        while state is not None and state.runtime_status not in TERMINAL_STATUSES:
            left = deadline - loop.time()
            if left <= 0:
                break
            state = await self.wait_for_change(instance_id, min(left, 0.5))
        return state

    def episode_committed(self, instance_id: str) -> None:
        """Called by the dispatcher after each committed episode (wakes :meth:`wait_for_change`)."""
        ev = self._changed.pop(instance_id, None)
        if ev is not None:
            ev.set()

    # -- internals ---------------------------------------------------------------------------------------
    async def _require(self, instance_id: str) -> InstanceState:
        state = await self.store.get_instance(instance_id)
        if state is None:
            raise InstanceNotFound(instance_id)
        return state

    def _notify(self, instance_id: str) -> None:
        self._wake()
