"""The SQLite task hub: one file (WAL) in the data dir; several hubs share it without seeing each other.

Implements :class:`devhost.durable.store.TaskHubStore` (schema in ``schema.sql`` beside this file; rows
of ``instances`` mapped by :mod:`devhost.durable.sqlite_rows`), after
microsoft/durabletask-go ``backend/sqlite/sqlite.go``: every episode is ONE transaction (history append,
status, work items, timers, messages, inbox deletions), so ``kill -9`` at any moment leaves either the
episode or nothing. ``synchronous=NORMAL`` in WAL mode survives process crashes (an OS crash may lose the
last commits). Use from one thread only (see :class:`devhost.durable.store.AsyncStore`). Episodes read
histories through a :class:`~devhost.durable.history_cache.HistoryCache` of what this store last read and
committed (its rules are in that module).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devhost.durable import history as h
from devhost.durable.errors import InstanceAlreadyExists, InstanceGone, InstanceNotFound, StoreError
from devhost.durable.history_cache import HistoryCache
from devhost.durable.models import (
    TERMINAL_STATUSES,
    ActivityWorkItem,
    EpisodeInput,
    InboxMessage,
    InstanceState,
)
from devhost.durable.outcome import ChildStart, EpisodeOutcome
from devhost.durable.replay import played_text
from devhost.durable.sqlite_rows import (
    COLUMNS,
    INSERT_VALUES,
    after_token,
    instance_filter,
    instance_update,
    page_token,
    row_state,
    time_text,
)
from devhost.durable.store import ActivityResult, EpisodeCommit, TaskHubStore

Event = dict[str, Any]
_SCHEMA = (Path(__file__).with_name("schema.sql")).read_text(encoding="utf-8")
# Inbox ``kind`` values named (the column holds the event's EventType).
_TERMINATE, _RESUME, _TIMER, _EVENT, _START = (
    h.EXECUTION_TERMINATED, h.EXECUTION_RESUMED, h.TIMER_FIRED, h.EVENT_RAISED, h.EXECUTION_STARTED,
)


class SqliteStore(TaskHubStore):
    """A task hub named ``hub`` inside the SQLite file ``path`` (created with its schema if missing).

    Raises StoreError when the file cannot be opened or is not a task hub database; every method raises
    StoreError for a database failure (reads included), as :class:`TaskHubStore` promises.
    """

    def __init__(self, path: Path | str, hub: str) -> None:
        self.path = Path(path)
        self.hub = hub
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
            self._db.execute("PRAGMA foreign_keys=OFF")
            self._db.executescript(_SCHEMA)
            self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the task hub database {self.path}: {exc}") from exc
        self.history_cache = HistoryCache()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads outside a transaction; sqlite3.Error → StoreError."""
        try:
            yield self._db
        except sqlite3.Error as exc:
            raise StoreError(f"task hub database {self.path}: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT); any error rolls it back, sqlite3.Error →
        StoreError."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"task hub database {self.path}: {exc}") from exc
        try:
            yield db
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StoreError(f"task hub database {self.path}: {exc}") from exc
        except BaseException:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise StoreError(f"task hub database {self.path}: commit failed: {exc}") from exc

    def _status(self, db: sqlite3.Connection, instance_id: str) -> tuple[str, str] | None:
        row = db.execute(
            "SELECT runtime_status, execution_id FROM instances WHERE hub=? AND instance_id=?",
            (self.hub, instance_id),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def _insert_inbox(self, db: sqlite3.Connection, rows: Iterable[tuple[str, Event, float]]) -> None:
        db.executemany(
            "INSERT INTO inbox (hub, instance_id, kind, timer_id, visible_at, event) VALUES (?,?,?,?,?,?)",
            [
                (self.hub, iid, int(e["EventType"]),
                 e.get("TimerId") if e["EventType"] == h.TIMER_FIRED else None, at,
                 json.dumps(e, separators=(",", ":")))
                for iid, e, at in rows
            ],
        )

    def _delete_instance_rows(self, db: sqlite3.Connection, instance_id: str) -> None:
        self.history_cache.drop(instance_id)
        for table in ("history", "inbox", "activities"):
            db.execute(f"DELETE FROM {table} WHERE hub=? AND instance_id=?", (self.hub, instance_id))

    def _create(self, db: sqlite3.Connection, state: InstanceState, start: Event) -> None:
        self.history_cache.drop(state.instance_id)
        existing = self._status(db, state.instance_id)
        if existing is not None:
            if existing[0] not in TERMINAL_STATUSES:
                raise InstanceAlreadyExists(state.instance_id, existing[0])
            self._delete_instance_rows(db, state.instance_id)
        db.execute(
            f"INSERT OR REPLACE {INSERT_VALUES}",
            (self.hub, state.instance_id, state.execution_id, state.name, state.version,
             state.runtime_status, state.input, None, None, None, state.parent_instance_id,
             time_text(state.created_time), time_text(state.last_updated_time), None),
        )
        self._insert_inbox(db, [(state.instance_id, start, state.created_time.timestamp())])

    # -- instances -----------------------------------------------------------------------------------
    def create_instance(self, state: InstanceState, start_event: Event) -> None:
        with self._tx() as db:
            self._create(db, state, start_event)

    def get_instance(self, instance_id: str) -> InstanceState | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM instances WHERE hub=? AND instance_id=?", (self.hub, instance_id)
            ).fetchone()
        return row_state(row) if row else None

    def get_history(self, instance_id: str) -> list[Event]:
        return [json.loads(t) for t in self._history_texts(instance_id)]

    def _history_texts(self, instance_id: str) -> list[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT event FROM history WHERE hub=? AND instance_id=? ORDER BY seq",
                (self.hub, instance_id),
            ).fetchall()
        return [r[0] for r in rows]

    def query(self, *, created_from: datetime | None = None, created_to: datetime | None = None,
              statuses: Sequence[str] | None = None, instance_id_prefix: str | None = None,
              top: int | None = None, continuation: str | None = None,
              ) -> tuple[list[InstanceState], str | None]:
        where, args = instance_filter(self.hub, created_from, created_to, statuses)
        if instance_id_prefix:  # case-sensitive, as the Azure Storage backend's key range
            where.append("substr(instance_id, 1, ?) = ?")
            args += [len(instance_id_prefix), instance_id_prefix]
        if continuation:
            after, after_args = after_token(continuation)
            where.append(after)
            args += after_args
        sql = (
            f"SELECT {COLUMNS} FROM instances WHERE {' AND '.join(where)} "
            "ORDER BY created_time, instance_id"
        )
        if top:
            sql += f" LIMIT {int(top) + 1}"
        with self._read() as db:
            rows = db.execute(sql, args).fetchall()
        token = None
        if top and len(rows) > top:
            rows = rows[:top]
            token = page_token(rows[-1])
        return [row_state(r) for r in rows], token

    def enqueue(self, instance_id: str, event: Event, refuse: Iterable[str] = ()) -> None:
        refused = set(refuse)
        with self._tx() as db:
            status = self._status(db, instance_id)
            if status is None:
                raise InstanceNotFound(instance_id)
            if status[0] in refused:
                raise InstanceGone(instance_id, status[0])
            self._insert_inbox(db, [(instance_id, event, h.event_time(event).timestamp())])

    def _ensure_entity(self, db: sqlite3.Connection, entity_id: str, name: str, at: datetime) -> None:
        """Create the entity instance ``entity_id`` (Running, no input, no history) unless it exists."""
        db.execute(f"INSERT OR IGNORE {INSERT_VALUES}",
                   (self.hub, entity_id, "", name, None, "Running", *[None] * 5, time_text(at), time_text(at),
                    None))

    def enqueue_entity(self, entity_id: str, name: str, event: Event) -> None:
        at = h.event_time(event)
        with self._tx() as db:
            self._ensure_entity(db, entity_id, name, at)
            self._insert_inbox(db, [(entity_id, event, at.timestamp())])

    # -- orchestration work -----------------------------------------------------------------------------
    def release_locks(self) -> int:
        with self._tx() as db:
            return db.execute("UPDATE activities SET locked=0 WHERE hub=? AND locked=1", (self.hub,)).rowcount

    def ready_instances(self, now: datetime, limit: int, exclude: set[str]) -> list[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT m.instance_id FROM inbox m "
                "JOIN instances i ON i.hub=m.hub AND i.instance_id=m.instance_id "
                "WHERE m.hub=? AND m.visible_at<=? AND (i.runtime_status<>'Suspended' OR m.kind IN (?,?)) "
                "GROUP BY m.instance_id ORDER BY MIN(m.id) LIMIT ?",
                (self.hub, now.timestamp(), _TERMINATE, _RESUME, limit + len(exclude)),
            ).fetchall()
        return [r[0] for r in rows if r[0] not in exclude][:limit]

    def _load_episode(self, instance_id: str, now: datetime) -> EpisodeInput | None:
        state = self.get_instance(instance_id)
        if state is None:
            return None
        texts, history = self._cached_history(state)
        with self._read() as db:
            msgs = db.execute(
                "SELECT id, event FROM inbox WHERE hub=? AND instance_id=? AND visible_at<=? "
                "ORDER BY (kind<>?), id",
                (self.hub, instance_id, now.timestamp(), _START),
            ).fetchall()
        return EpisodeInput(
            instance=state,
            history=history,
            history_texts=texts,
            messages=[InboxMessage(r[0], json.loads(r[1])) for r in msgs],
        )

    def _cached_history(self, state: InstanceState) -> tuple[list[str], list[Event]]:
        """The history texts and events of ``state``'s execution: from the cache, else read and kept
        (not for a finished instance, nor an entity's empty history: its execution id is "")."""
        iid = state.instance_id
        hit = self.history_cache.get(iid, state.execution_id)
        if hit is not None:
            return hit
        texts = self._history_texts(iid)
        events = [json.loads(t) for t in texts]
        if state.runtime_status not in TERMINAL_STATUSES and (texts or state.execution_id):
            self.history_cache.put(iid, state.execution_id, list(texts), list(events))
        return texts, events

    def load_episodes(self, instance_ids: Sequence[str], now: datetime) -> list[EpisodeInput]:
        with self._read() as db:  # another connection wrote (another process, another store): re-read
            version = db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self.history_cache.clear()
        found = (self._load_episode(iid, now) for iid in instance_ids)
        return [e for e in found if e is not None]

    def commit_episodes(self, episodes: Sequence[EpisodeCommit], now: datetime) -> list[str]:
        done: list[str] = []
        appended: list[tuple[EpisodeCommit, list[str]]] = []  # for the history cache, once committed
        try:
            with self._tx() as db:
                for episode in episodes:
                    if self._commit_one(db, episode, now, appended):
                        done.append(episode.instance_id)
        except BaseException:
            for episode in episodes:
                self.history_cache.drop(episode.instance_id)
            raise
        for episode, texts in appended:
            self.history_cache.extend(episode.instance_id, episode.execution_id, episode.history_len, texts)
        return done

    def _commit_one(self, db: sqlite3.Connection, episode: EpisodeCommit, now: datetime,
                    appended: list[tuple[EpisodeCommit, list[str]]]) -> bool:
        hub, at = self.hub, now.timestamp()
        instance_id, outcome = episode.instance_id, episode.outcome
        current = self._status(db, instance_id)
        if current is None or current[1] != episode.execution_id:
            self.history_cache.drop(instance_id)
            return False
        if episode.consumed:
            db.executemany("DELETE FROM inbox WHERE id=?", [(i,) for i in episode.consumed])
        if not outcome.state_changed:
            return True
        texts = self._write_history(db, instance_id, episode.history_len, outcome)
        if outcome.new_history is None and outcome.continue_as_new is None and not outcome.is_terminal:
            appended.append((episode, texts))
        else:  # rewound, continued as new or finished: read again if ever needed
            self.history_cache.drop(instance_id)
        sets, args = instance_update(outcome, now)
        db.execute(f"UPDATE instances SET {sets} WHERE hub=? AND instance_id=?", [*args, hub, instance_id])
        if outcome.activities:
            exe = episode.execution_id
            rows = [(hub, instance_id, exe, a.task_id, a.name, a.input) for a in outcome.activities]
            db.executemany("INSERT INTO activities (hub, instance_id, execution_id, task_id, name, input) "
                           "VALUES (?,?,?,?,?,?)", rows)
        if outcome.timers:
            self._insert_inbox(db, [(instance_id, t.event, t.fire_at.timestamp()) for t in outcome.timers])
        for child in outcome.child_starts:
            self._start_child(db, instance_id, child, now)
        for msg in outcome.messages:
            if msg.entity is not None:
                self._ensure_entity(db, msg.instance_id, msg.entity, now)
            if self._status(db, msg.instance_id) is not None:
                self._insert_inbox(db, [(msg.instance_id, msg.event, at)])
        if outcome.cancel_timers:
            db.executemany(
                "DELETE FROM inbox WHERE hub=? AND instance_id=? AND kind=? AND timer_id=?",
                [(hub, instance_id, _TIMER, t) for t in outcome.cancel_timers],
            )
        if outcome.is_terminal:
            db.execute("DELETE FROM inbox WHERE hub=? AND instance_id=?", (hub, instance_id))
            db.execute(
                "DELETE FROM activities WHERE hub=? AND instance_id=? AND locked=0", (hub, instance_id)
            )
        if outcome.continue_as_new is not None:
            db.execute(
                "DELETE FROM inbox WHERE hub=? AND instance_id=? AND kind<>?", (hub, instance_id, _EVENT)
            )
            db.execute("DELETE FROM activities WHERE hub=? AND instance_id=?", (hub, instance_id))
            self._insert_inbox(db, [(instance_id, outcome.continue_as_new, at)])
        return True

    def _write_history(
        self, db: sqlite3.Connection, instance_id: str, history_len: int, outcome: EpisodeOutcome
    ) -> list[str]:
        """Append the outcome's events at ``history_len`` (or replace the history); the texts written."""
        events, seq = outcome.append, history_len
        if outcome.new_history is not None or outcome.continue_as_new is not None:
            db.execute("DELETE FROM history WHERE hub=? AND instance_id=?", (self.hub, instance_id))
            events, seq = (outcome.new_history or []), 0
            if outcome.continue_as_new is not None:
                events = []
        texts = [played_text(e) for e in events]
        db.executemany(
            "INSERT INTO history (hub, instance_id, seq, event) VALUES (?,?,?,?)",
            [(self.hub, instance_id, seq + i, t) for i, t in enumerate(texts)],
        )
        return texts

    def _start_child(self, db: sqlite3.Connection, parent_id: str, child: ChildStart, now: datetime) -> None:
        start = child.start_event
        state = InstanceState(
            instance_id=child.instance_id, name=child.name, runtime_status="Pending", input=child.input,
            output=None, custom_status=None, created_time=now, last_updated_time=now,
            version=child.version, execution_id=start["OrchestrationInstance"]["ExecutionId"],
            parent_instance_id=parent_id,
        )
        try:
            self._create(db, state, start)
        except InstanceAlreadyExists as exc:
            failed = h.sub_orchestration_failed(now, child.task_id, str(exc), None)
            self._insert_inbox(db, [(parent_id, failed, now.timestamp())])

    # -- activities -------------------------------------------------------------------------------------
    def claim_activities(self, limit: int) -> list[ActivityWorkItem]:
        if limit <= 0:
            return []
        probe = "SELECT 1 FROM activities WHERE hub=? AND locked=0 LIMIT 1"
        with self._read() as db:
            if db.execute(probe, (self.hub,)).fetchone() is None:
                return []  # nothing to claim: skip the write transaction
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, instance_id, execution_id, task_id, name, input FROM activities "
                "WHERE hub=? AND locked=0 ORDER BY id LIMIT ?",
                (self.hub, limit),
            ).fetchall()
            if rows:
                db.executemany(
                    "UPDATE activities SET locked=1, dequeue_count=dequeue_count+1 WHERE id=?",
                    [(r[0],) for r in rows],
                )
        return [ActivityWorkItem(*r) for r in rows]

    def complete_activities(self, results: Sequence[ActivityResult], now: datetime) -> int:
        rows = []
        with self._tx() as db:
            for result in results:
                if db.execute("DELETE FROM activities WHERE id=?", (result.item.id,)).rowcount:
                    rows.append((result.item.instance_id, result.event, now.timestamp()))
            if rows:
                self._insert_inbox(db, rows)
        return len(rows)

    def abandon_activities(self, items: Sequence[ActivityWorkItem]) -> int:
        with self._tx() as db:
            return sum(
                db.execute("UPDATE activities SET locked=0 WHERE id=?", (item.id,)).rowcount for item in items
            )

    def next_visible_at(self, now: datetime) -> datetime | None:
        with self._read() as db:
            row = db.execute(
                "SELECT MIN(visible_at) FROM inbox WHERE hub=? AND visible_at>?", (self.hub, now.timestamp())
            ).fetchone()
        return None if row is None or row[0] is None else datetime.fromtimestamp(row[0], UTC)

    # -- purge ------------------------------------------------------------------------------------------
    def purge(self, instance_id: str) -> int:
        with self._tx() as db:
            n = db.execute(
                "DELETE FROM instances WHERE hub=? AND instance_id=?", (self.hub, instance_id)
            ).rowcount
            self._delete_instance_rows(db, instance_id)
        return n

    def purge_by(self, *, created_from: datetime, created_to: datetime, statuses: Sequence[str]) -> int:
        where, args = instance_filter(self.hub, created_from, created_to, statuses)
        with self._tx() as db:
            sql = f"SELECT instance_id FROM instances WHERE {' AND '.join(where)}"
            ids = [r[0] for r in db.execute(sql, args)]
            for iid in ids:
                db.execute("DELETE FROM instances WHERE hub=? AND instance_id=?", (self.hub, iid))
                self._delete_instance_rows(db, iid)
        return len(ids)

    def close(self) -> None:
        with suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
