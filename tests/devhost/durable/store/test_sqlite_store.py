"""What only the SQLite store has: hubs sharing one file, a file that outlives the process, WAL.

The behaviour every store shares is in test_store_contract.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from devhost.durable import history as h
from devhost.durable.outcome import ActivityTask, EpisodeOutcome
from devhost.durable.sqlite_store import SqliteStore
from devhost.durable.store import ActivityResult, EpisodeCommit
from tests.devhost.durable.store.conftest import T0, new


def test_two_hubs_in_one_file_do_not_see_each_other(tmp_path: Path) -> None:
    """Instances, queries and work of hub A are invisible to hub B sharing the file."""
    a, b = SqliteStore(tmp_path / "t.sqlite", "HubA"), SqliteStore(tmp_path / "t.sqlite", "HubB")
    new(a, "same-id")
    assert b.get_instance("same-id") is None
    assert b.query()[0] == []
    assert b.ready_instances(T0, 10, set()) == []
    new(b, "same-id", "other")
    assert a.get_instance("same-id").name == "orch"  # type: ignore[union-attr]
    assert b.purge("same-id") == 1 and a.get_instance("same-id") is not None


def test_locks_of_a_dead_process_are_released_on_reopen(tmp_path: Path) -> None:
    """A work item claimed by a run that died is claimable again after release_locks (at-least-once)."""
    path = tmp_path / "t.sqlite"
    store = SqliteStore(path, "H")
    state = new(store, "i1")
    (loaded,) = store.load_episodes(["i1"], T0)
    out = EpisodeOutcome("Running", append=[h.orchestrator_started(T0), loaded.messages[0].event,
                                            h.task_scheduled(T0, 0, "a", "1"), h.orchestrator_completed(T0)],
                         activities=[ActivityTask(0, "a", "1")])
    store.commit_episodes([EpisodeCommit("i1", state.execution_id, 0, out, [loaded.messages[0].id])], T0)
    (item,) = store.claim_activities(5)
    store.close()  # "crash": the result was never recorded
    again = SqliteStore(path, "H")
    assert again.claim_activities(5) == []
    assert again.release_locks() == 1
    (retry,) = again.claim_activities(5)
    assert retry.id == item.id
    assert again.complete_activities([ActivityResult(retry, h.task_completed(T0, 0, "2"))], T0) == 1


def test_database_is_wal(tmp_path: Path) -> None:
    """The task hub file uses WAL journaling."""
    SqliteStore(tmp_path / "t.sqlite", "H")
    assert sqlite3.connect(tmp_path / "t.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
