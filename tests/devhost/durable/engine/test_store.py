"""The SQLite task hub store: hub isolation, atomic episodes, locks released on restart, purge."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devhost.durable import history as h
from devhost.durable.errors import InstanceAlreadyExists, InstanceGone, InstanceNotFound
from devhost.durable.models import TERMINAL_STATUSES, InstanceState
from devhost.durable.outcome import ActivityTask, EpisodeOutcome, TimerMessage
from devhost.durable.sqlite_store import SqliteStore

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def new(store: SqliteStore, iid: str, name: str = "orch") -> InstanceState:
    state = InstanceState(iid, name, "Pending", '"in"', None, None, T0, T0, "1.0", f"x-{iid}")
    store.create_instance(state, h.execution_started(T0, name, iid, state.execution_id, '"in"', "1.0"))
    return state


def test_two_hubs_in_one_file_do_not_see_each_other(tmp_path: Path) -> None:
    """Instances, queries and work of hub A are invisible to hub B sharing the file."""
    a, b = SqliteStore(tmp_path / "t.sqlite", "HubA"), SqliteStore(tmp_path / "t.sqlite", "HubB")
    new(a, "same-id")
    assert b.get_instance("same-id") is None
    assert b.query(created_from=None, created_to=None, statuses=None, instance_id_prefix=None, top=None,
                   continuation=None)[0] == []
    assert b.ready_instances(T0, 10, set()) == []
    new(b, "same-id", "other")
    assert a.get_instance("same-id").name == "orch"  # type: ignore[union-attr]
    assert b.purge("same-id") == 1 and a.get_instance("same-id") is not None


def test_episode_commit_is_atomic_and_guarded(tmp_path: Path) -> None:
    """An episode's history, status, work, timers and inbox deletion land together; a stale execution id
    commits nothing."""
    store = SqliteStore(tmp_path / "t.sqlite", "H")
    state = new(store, "i1")
    loaded = store.load_episode("i1", T0)
    assert loaded is not None and [m.event["EventType"] for m in loaded.messages] == [h.EXECUTION_STARTED]
    fire = T0 + timedelta(hours=1)
    out = EpisodeOutcome(
        "Running",
        append=[h.orchestrator_started(T0), loaded.messages[0].event, h.task_scheduled(T0, 0, "a", "1"),
                h.timer_created(T0, 1, fire), h.orchestrator_completed(T0)],
        activities=[ActivityTask(0, "a", "1")],
        timers=[TimerMessage(1, fire, h.timer_fired(fire, 1, fire))],
    )
    assert not store.commit_episode("i1", "wrong-exec", 0, out, [loaded.messages[0].id], T0)
    assert store.get_history("i1") == [] and store.load_episode("i1", T0).messages  # type: ignore[union-attr]
    assert store.commit_episode("i1", state.execution_id, 0, out, [loaded.messages[0].id], T0)
    assert [e["EventType"] for e in store.get_history("i1")] == [12, 0, 4, 10, 13]
    assert store.get_instance("i1").runtime_status == "Running"  # type: ignore[union-attr]
    assert store.load_episode("i1", T0).messages == []  # type: ignore[union-attr]
    assert store.next_visible_at(T0) == fire
    assert store.ready_instances(fire, 10, set()) == ["i1"]


def test_locked_activities_are_released_on_restart(tmp_path: Path) -> None:
    """A work item claimed by a run that died is claimable again after release_locks (at-least-once)."""
    path = tmp_path / "t.sqlite"
    store = SqliteStore(path, "H")
    state = new(store, "i1")
    loaded = store.load_episode("i1", T0)
    assert loaded is not None
    out = EpisodeOutcome("Running", append=[h.orchestrator_started(T0), loaded.messages[0].event,
                                            h.task_scheduled(T0, 0, "a", "1"), h.orchestrator_completed(T0)],
                         activities=[ActivityTask(0, "a", "1")])
    store.commit_episode("i1", state.execution_id, 0, out, [loaded.messages[0].id], T0)
    (item,) = store.claim_activities(5)
    assert store.claim_activities(5) == []
    store.close()  # "crash": the result was never recorded
    again = SqliteStore(path, "H")
    assert again.release_locks() == 1
    (retry,) = again.claim_activities(5)
    assert retry.id == item.id
    assert again.complete_activity(retry, h.task_completed(T0, 0, "2"), T0)
    assert not again.complete_activity(retry, h.task_completed(T0, 0, "2"), T0)  # no duplicate
    assert [m.event["EventType"] for m in again.load_episode("i1", T0).messages] == [5]  # type: ignore[union-attr]


def test_create_and_enqueue_errors(tmp_path: Path) -> None:
    """Duplicate ids of running instances, unknown ids and terminal instances raise the documented errors."""
    store = SqliteStore(tmp_path / "t.sqlite", "H")
    new(store, "i1")
    with pytest.raises(InstanceAlreadyExists):
        new(store, "i1")
    with pytest.raises(InstanceNotFound):
        store.enqueue("nope", h.event_raised(T0, "E", None), TERMINAL_STATUSES)
    store._db.execute("UPDATE instances SET runtime_status='Completed' WHERE instance_id='i1'")
    with pytest.raises(InstanceGone):
        store.enqueue("i1", h.event_raised(T0, "E", None), TERMINAL_STATUSES)
    new(store, "i1")  # a finished instance may be replaced
    assert store.get_instance("i1").runtime_status == "Pending"  # type: ignore[union-attr]


def test_database_is_wal(tmp_path: Path) -> None:
    """The task hub file uses WAL journaling."""
    SqliteStore(tmp_path / "t.sqlite", "H")
    assert sqlite3.connect(tmp_path / "t.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
