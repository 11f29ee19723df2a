"""An in-memory task hub: the :class:`~devhost.durable.store.TaskHubStore` contract without a database.

For tests of the engine that need no file, and as the second implementation the store conformance suite
runs against (``tests/devhost/durable/store/test_store_contract.py``), so the contract is what the engine
needs rather than what SQLite happens to do. Semantics mirror :class:`~devhost.durable.sqlite_store.
SqliteStore` exactly: every write is all-or-nothing (a failure part-way restores the previous state),
messages and work items are ordered by arrival, a closed store raises StoreError. Nothing survives the
process; one object is one hub. Use from one thread.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from devhost.durable import history as h
from devhost.durable.errors import InstanceAlreadyExists, InstanceGone, InstanceNotFound, StoreError
from devhost.durable.models import (
    TERMINAL_STATUSES,
    ActivityWorkItem,
    EpisodeInput,
    InboxMessage,
    InstanceState,
)
from devhost.durable.outcome import ChildStart, EpisodeOutcome
from devhost.durable.replay import played_text
from devhost.durable.store import ActivityResult, EpisodeCommit, TaskHubStore

Event = dict[str, Any]


@dataclass
class _Message:
    instance_id: str
    kind: int  # the event's EventType
    timer_id: int | None
    visible_at: float  # Unix seconds
    event: str  # JSON text


@dataclass
class _WorkItem:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None
    locked: bool = False


@dataclass
class _State:
    instances: dict[str, InstanceState]
    history: dict[str, list[str]]
    inbox: dict[int, _Message]
    activities: dict[int, _WorkItem]
    next_id: int = 1


def _key(state: InstanceState) -> tuple[str, str]:
    created = state.created_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return created, state.instance_id


class MemoryStore(TaskHubStore):
    """One task hub held in dictionaries (see module docstring)."""

    def __init__(self) -> None:
        self._s: _State | None = _State({}, {}, {}, {})

    # -- plumbing ----------------------------------------------------------------------------------------
    @property
    def _state(self) -> _State:
        if self._s is None:
            raise StoreError("the in-memory task hub is closed")
        return self._s

    @contextmanager
    def _tx(self) -> Iterator[_State]:
        """All-or-nothing: on any error the state before the call is restored."""
        before = copy.deepcopy(self._state)
        try:
            yield self._state
        except BaseException:
            self._s = before
            raise

    def _new_id(self, s: _State) -> int:
        s.next_id += 1
        return s.next_id - 1

    def _insert(self, s: _State, rows: Iterable[tuple[str, Event, float]]) -> None:
        for iid, e, at in rows:
            kind = int(e["EventType"])
            s.inbox[self._new_id(s)] = _Message(
                iid, kind, e.get("TimerId") if kind == h.TIMER_FIRED else None, at,
                json.dumps(e, separators=(",", ":")),
            )

    def _delete_rows(self, s: _State, instance_id: str) -> None:
        s.history.pop(instance_id, None)
        for table in (s.inbox, s.activities):
            for k in [k for k, v in table.items() if v.instance_id == instance_id]:
                del table[k]

    def _create(self, s: _State, state: InstanceState, start: Event) -> None:
        existing = s.instances.get(state.instance_id)
        if existing is not None:
            if existing.runtime_status not in TERMINAL_STATUSES:
                raise InstanceAlreadyExists(state.instance_id, existing.runtime_status)
            self._delete_rows(s, state.instance_id)
        s.instances[state.instance_id] = replace(state, output=None, custom_status=None, failure_details=None,
                                                 completed_time=None)
        s.history[state.instance_id] = []
        self._insert(s, [(state.instance_id, start, state.created_time.timestamp())])

    # -- instances -----------------------------------------------------------------------------------------
    def create_instance(self, state: InstanceState, start_event: Event) -> None:
        with self._tx() as s:
            self._create(s, state, start_event)

    def get_instance(self, instance_id: str) -> InstanceState | None:
        return self._state.instances.get(instance_id)

    def get_history(self, instance_id: str) -> list[Event]:
        return [json.loads(t) for t in self._state.history.get(instance_id, [])]

    def _matching(self, created_from: datetime | None, created_to: datetime | None,
                  statuses: Sequence[str] | None) -> list[InstanceState]:
        return [
            i for i in self._state.instances.values()
            if (created_from is None or i.created_time >= created_from)
            and (created_to is None or i.created_time <= created_to)
            and (not statuses or i.runtime_status in statuses)
        ]

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
        found = sorted(self._matching(created_from, created_to, statuses), key=_key)
        if instance_id_prefix:
            found = [i for i in found if i.instance_id.startswith(instance_id_prefix)]
        if continuation:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(continuation.encode()).decode()))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"invalid continuation token {continuation!r}") from exc
            found = [i for i in found if _key(i) > after]
        token = None
        if top and len(found) > top:
            found = found[:top]
            token = base64.urlsafe_b64encode(json.dumps(list(_key(found[-1]))).encode()).decode()
        return found, token

    def enqueue(self, instance_id: str, event: Event, refuse: Iterable[str] = ()) -> None:
        refused = set(refuse)
        with self._tx() as s:
            state = s.instances.get(instance_id)
            if state is None:
                raise InstanceNotFound(instance_id)
            if state.runtime_status in refused:
                raise InstanceGone(instance_id, state.runtime_status)
            self._insert(s, [(instance_id, event, h.event_time(event).timestamp())])

    @staticmethod
    def _ensure_entity(s: _State, entity_id: str, name: str, at: datetime) -> None:
        if entity_id not in s.instances:
            s.instances[entity_id] = InstanceState(entity_id, name, "Running", None, None, None, at, at)
            s.history[entity_id] = []

    def enqueue_entity(self, entity_id: str, name: str, event: Event) -> None:
        at = h.event_time(event)
        with self._tx() as s:
            self._ensure_entity(s, entity_id, name, at)
            self._insert(s, [(entity_id, event, at.timestamp())])

    def purge(self, instance_id: str) -> int:
        with self._tx() as s:
            found = s.instances.pop(instance_id, None)
            self._delete_rows(s, instance_id)
        return 0 if found is None else 1

    def purge_by(self, *, created_from: datetime, created_to: datetime, statuses: Sequence[str]) -> int:
        with self._tx() as s:
            ids = [i.instance_id for i in self._matching(created_from, created_to, statuses)]
            for iid in ids:
                del s.instances[iid]
                self._delete_rows(s, iid)
        return len(ids)

    # -- orchestration work --------------------------------------------------------------------------------
    def ready_instances(self, now: datetime, limit: int, exclude: set[str]) -> list[str]:
        s, at = self._state, now.timestamp()
        first: dict[str, int] = {}
        for mid, m in s.inbox.items():
            state = s.instances.get(m.instance_id)
            if state is None or m.visible_at > at:
                continue
            if state.runtime_status == "Suspended" and m.kind not in (h.EXECUTION_TERMINATED,
                                                                     h.EXECUTION_RESUMED):
                continue
            first[m.instance_id] = min(mid, first.get(m.instance_id, mid))
        ordered = sorted(first, key=first.__getitem__)
        return [iid for iid in ordered if iid not in exclude][:limit]

    def load_episodes(self, instance_ids: Sequence[str], now: datetime) -> list[EpisodeInput]:
        s, at, found = self._state, now.timestamp(), []
        for iid in instance_ids:
            state = s.instances.get(iid)
            if state is None:
                continue
            texts = list(s.history.get(iid, []))
            msgs = sorted(
                ((mid, m) for mid, m in s.inbox.items() if m.instance_id == iid and m.visible_at <= at),
                key=lambda p: (p[1].kind != h.EXECUTION_STARTED, p[0]),
            )
            found.append(EpisodeInput(
                instance=state, history=[json.loads(t) for t in texts], history_texts=texts,
                messages=[InboxMessage(mid, json.loads(m.event)) for mid, m in msgs],
            ))
        return found

    def commit_episodes(self, episodes: Sequence[EpisodeCommit], now: datetime) -> list[str]:
        done: list[str] = []
        with self._tx() as s:
            for episode in episodes:
                if self._commit_one(s, episode, now):
                    done.append(episode.instance_id)
        return done

    def _commit_one(self, s: _State, episode: EpisodeCommit, now: datetime) -> bool:
        iid, outcome, at = episode.instance_id, episode.outcome, now.timestamp()
        current = s.instances.get(iid)
        if current is None or current.execution_id != episode.execution_id:
            return False
        for mid in episode.consumed:
            s.inbox.pop(mid, None)
        if not outcome.state_changed:
            return True
        self._write_history(s, iid, episode.history_len, outcome)
        self._update_instance(s, iid, outcome, now)
        for a in outcome.activities:
            s.activities[self._new_id(s)] = _WorkItem(iid, episode.execution_id, a.task_id, a.name, a.input)
        self._insert(s, [(iid, t.event, t.fire_at.timestamp()) for t in outcome.timers])
        for child in outcome.child_starts:
            self._start_child(s, iid, child, now)
        for msg in outcome.messages:
            if msg.entity is not None:
                self._ensure_entity(s, msg.instance_id, msg.entity, now)
            if msg.instance_id in s.instances:
                self._insert(s, [(msg.instance_id, msg.event, at)])
        cancel = set(outcome.cancel_timers)
        for mid in [mid for mid, m in s.inbox.items()
                    if m.instance_id == iid and m.kind == h.TIMER_FIRED and m.timer_id in cancel]:
            del s.inbox[mid]
        if outcome.is_terminal:
            self._drop(s.inbox, lambda m: m.instance_id == iid)
            self._drop(s.activities, lambda w: w.instance_id == iid and not w.locked)
        if outcome.continue_as_new is not None:
            self._drop(s.inbox, lambda m: m.instance_id == iid and m.kind != h.EVENT_RAISED)
            self._drop(s.activities, lambda w: w.instance_id == iid)
            self._insert(s, [(iid, outcome.continue_as_new, at)])
        return True

    @staticmethod
    def _drop(table: dict[int, Any], doomed: Any) -> None:
        for k in [k for k, v in table.items() if doomed(v)]:
            del table[k]

    def _write_history(self, s: _State, iid: str, history_len: int, outcome: EpisodeOutcome) -> None:
        stored = s.history.setdefault(iid, [])
        events = outcome.append
        if outcome.new_history is not None or outcome.continue_as_new is not None:
            stored.clear()
            events = [] if outcome.continue_as_new is not None else (outcome.new_history or [])
        elif history_len < len(stored):  # as the SQLite primary key (instance, seq) refuses it
            raise StoreError(f"history of {iid} has {len(stored)} events, the episode expected {history_len}")
        stored.extend(played_text(e) for e in events)

    def _update_instance(self, s: _State, iid: str, outcome: EpisodeOutcome, now: datetime) -> None:
        state = s.instances[iid]
        changes: dict[str, Any] = {
            "runtime_status": outcome.runtime_status, "last_updated_time": now, "output": outcome.output,
            "failure_details": outcome.failure or None,
            "completed_time": now if outcome.is_terminal else None,
        }
        if outcome.custom_status_set:
            changes["custom_status"] = outcome.custom_status
        if outcome.input_set:
            changes["input"] = outcome.input
        can = outcome.continue_as_new
        if can is not None:
            changes["execution_id"] = can["OrchestrationInstance"]["ExecutionId"]
            changes["input"] = can.get("Input")
        s.instances[iid] = replace(state, **changes)

    def _start_child(self, s: _State, parent_id: str, child: ChildStart, now: datetime) -> None:
        start = child.start_event
        state = InstanceState(
            instance_id=child.instance_id, name=child.name, runtime_status="Pending", input=child.input,
            output=None, custom_status=None, created_time=now, last_updated_time=now,
            version=child.version, execution_id=start["OrchestrationInstance"]["ExecutionId"],
            parent_instance_id=parent_id,
        )
        try:
            self._create(s, state, start)
        except InstanceAlreadyExists as exc:
            failed = h.sub_orchestration_failed(now, child.task_id, str(exc), None)
            self._insert(s, [(parent_id, failed, now.timestamp())])

    def next_visible_at(self, now: datetime) -> datetime | None:
        at = now.timestamp()
        later = [m.visible_at for m in self._state.inbox.values() if m.visible_at > at]
        return datetime.fromtimestamp(min(later), UTC) if later else None

    # -- activities ----------------------------------------------------------------------------------------
    def release_locks(self) -> int:
        with self._tx() as s:
            locked = [w for w in s.activities.values() if w.locked]
            for w in locked:
                w.locked = False
        return len(locked)

    def claim_activities(self, limit: int) -> list[ActivityWorkItem]:
        if limit <= 0:
            return []
        with self._tx() as s:
            ready = sorted(k for k, w in s.activities.items() if not w.locked)[:limit]
            for k in ready:
                s.activities[k].locked = True
            return [ActivityWorkItem(k, w.instance_id, w.execution_id, w.task_id, w.name, w.input)
                    for k, w in ((k, s.activities[k]) for k in ready)]

    def complete_activities(self, results: Sequence[ActivityResult], now: datetime) -> int:
        queued = 0
        with self._tx() as s:
            for result in results:
                if s.activities.pop(result.item.id, None) is not None:
                    self._insert(s, [(result.item.instance_id, result.event, now.timestamp())])
                    queued += 1
        return queued

    def abandon_activities(self, items: Sequence[ActivityWorkItem]) -> int:
        with self._tx() as s:
            found = [s.activities[i.id] for i in items if i.id in s.activities]
            for w in found:
                w.locked = False
        return len(found)

    def close(self) -> None:
        self._s = None
