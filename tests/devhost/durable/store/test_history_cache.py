"""The SQLite task hub's history cache (devhost.durable.history_cache): an episode gets the history its
store last read and committed, and never one SQLite no longer holds – after a restart, another connection's
writes, purge, recreation, termination, continue-as-new, rewind, a stale or failed commit, with instances
interleaved. (tests/devhost/conftest.py also compares every episode's history with SQLite in all devhost
tests.)"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from devhost.durable import history as h
from devhost.durable.history_cache import HistoryCache
from devhost.durable.models import EpisodeInput
from devhost.durable.outcome import ChildStart, EpisodeOutcome
from devhost.durable.sqlite_store import SqliteStore
from devhost.durable.store import EpisodeCommit
from tests.devhost.durable.store.conftest import T0, new


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "t.sqlite"


def load(store: SqliteStore, iid: str) -> EpisodeInput:
    """The instance's episode input; its history must be what SQLite holds."""
    (loaded,) = store.load_episodes([iid], T0)
    assert loaded.history == store.get_history(iid)
    assert loaded.history_texts == [json.dumps(e, separators=(",", ":")) for e in loaded.history]
    return loaded


def step(store: SqliteStore, iid: str, name: str, **fields: Any) -> EpisodeCommit:
    """The commit of one episode of ``iid`` appending OrchestratorStarted, EventRaised ``name`` and
    OrchestratorCompleted after its history (``fields`` go to the outcome), consuming its messages."""
    loaded = load(store, iid)
    append = [h.orchestrator_started(T0), h.event_raised(T0, name, None), h.orchestrator_completed(T0)]
    outcome = EpisodeOutcome(str(fields.pop("status", "Running")), **{"append": append, **fields})
    return EpisodeCommit(iid, loaded.instance.execution_id, len(loaded.history), outcome,
                         [m.id for m in loaded.messages])


def run(store: SqliteStore, iid: str, *names: str) -> None:
    """Commit one episode per name."""
    for name in names:
        assert store.commit_episodes([step(store, iid, name)], T0) == [iid]


def cached(store: SqliteStore, iid: str) -> int | None:
    """Events the cache holds for the instance's current execution, None when not cached."""
    state = store.get_instance(iid)
    hit = store.history_cache.get(iid, state.execution_id) if state else None
    return None if hit is None else len(hit[1])


def names(loaded: EpisodeInput) -> list[str]:
    return [e["Name"] for e in loaded.history if e["EventType"] == h.EVENT_RAISED]


def test_commits_extend_the_cached_history(path: Path) -> None:
    """The first episode's empty history is kept; commits extend it, and the next episode gets the very
    events parsed before (no new parse) plus the appended ones; callers get new lists. An entity's empty
    history is not kept."""
    store = SqliteStore(path, "H")
    new(store, "i1")
    load(store, "i1")
    assert cached(store, "i1") == 0
    run(store, "i1", "one")
    assert cached(store, "i1") == 3
    first = load(store, "i1")
    run(store, "i1", "two", "three")
    again = load(store, "i1")
    assert names(again) == ["one", "two", "three"] and cached(store, "i1") == 9
    assert again.history[0] is first.history[0] and again.history[3] is not first.history[0]
    again.history.clear()
    again.history_texts.clear()
    assert names(load(store, "i1")) == ["one", "two", "three"]
    store.enqueue_entity("@counter@k", "counter", h.event_raised(T0, "op", None))
    assert load(store, "@counter@k").history == [] and "@counter@k" not in store.history_cache._entries


def test_restart_and_other_connections_read_sqlite_again(path: Path) -> None:
    """A new store (a restart) starts empty; a write by another connection – another store object, or
    another process rewriting a row in place (same length) – drops the whole cache."""
    store = SqliteStore(path, "H")
    new(store, "i1")
    new(store, "i2")
    run(store, "i1", "one", "two")
    run(store, "i2", "a", "b")
    load(store, "i1")
    load(store, "i2")
    store.close()
    store = SqliteStore(path, "H")
    assert len(store.history_cache) == 0
    assert names(load(store, "i1")) == ["one", "two"] and cached(store, "i1") == 6
    other = SqliteStore(path, "H")
    run(other, "i1", "by-other")
    assert names(load(store, "i1")) == ["one", "two", "by-other"]
    load(store, "i2")
    db = sqlite3.connect(path, isolation_level=None)
    text = db.execute("SELECT event FROM history WHERE instance_id='i2' AND seq=1").fetchone()[0]
    db.execute("UPDATE history SET event=? WHERE instance_id='i2' AND seq=1", (text.replace('"a"', '"z"'),))
    db.close()
    assert names(load(store, "i2")) == ["z", "b"]
    run(store, "i2", "c")
    assert names(load(store, "i2")) == ["z", "b", "c"]


def test_purge_recreate_terminate_continue_as_new_and_rewind_drop_the_entry(path: Path) -> None:
    """Whatever replaces or ends an instance's history forgets its cached one."""
    store = SqliteStore(path, "H")
    for iid in ("purged", "ended", "again", "cont", "rewound"):
        new(store, iid)
        run(store, iid, "one", "two")
        load(store, iid)
        assert cached(store, iid) == 6
    assert store.purge("purged") == 1 and cached(store, "purged") is None
    assert store.load_episodes(["purged"], T0) == []
    new(store, "purged")
    run(store, "purged", "fresh")
    assert names(load(store, "purged")) == ["fresh"]

    store.commit_episodes([step(store, "ended", "last", status="Terminated")], T0)
    assert "ended" not in store.history_cache._entries
    assert names(load(store, "ended")) == ["one", "two", "last"] and cached(store, "ended") is None
    new(store, "ended")  # a finished id started again: new execution, empty history
    assert load(store, "ended").history == [] and cached(store, "ended") == 0
    run(store, "ended", "new")
    assert names(load(store, "ended")) == ["new"]

    nxt = h.execution_started(T0, "orch", "cont", "x-next", None, "1.0")
    store.commit_episodes([step(store, "cont", "x", status="ContinuedAsNew", continue_as_new=nxt)], T0)
    assert "cont" not in store.history_cache._entries and load(store, "cont").history == []
    run(store, "cont", "second")
    assert names(load(store, "cont")) == ["second"]

    loaded = load(store, "rewound")
    rewritten = [*loaded.history[:3], h.orchestrator_started(T0), h.event_raised(T0, "redo", None)]
    store.commit_episodes([EpisodeCommit("rewound", loaded.instance.execution_id, len(loaded.history),
                                         EpisodeOutcome("Running", new_history=rewritten), [])], T0)
    assert "rewound" not in store.history_cache._entries
    assert names(load(store, "rewound")) == ["one", "redo"]
    assert cached(store, "again") == 6
    assert store.purge_by(created_from=T0, created_to=T0, statuses=["Running"]) == 5
    assert len(store.history_cache) == 0


def test_stale_failed_and_mismatched_commits_drop_the_entry(path: Path) -> None:
    """A commit for another execution, a batch whose transaction fails, and an append that does not start
    where the cached history ends each leave the next episode reading SQLite."""
    store = SqliteStore(path, "H")
    for iid in ("a", "b"):
        new(store, iid)
        run(store, iid, "one")
        load(store, iid)
    good = step(store, "a", "two")
    stale = EpisodeCommit("a", "old-execution", good.history_len, good.outcome, [])
    assert store.commit_episodes([stale], T0) == [] and cached(store, "a") is None
    assert names(load(store, "a")) == ["one"]

    broken = step(store, "b", "never")
    broken.outcome.child_starts.append(ChildStart("kid", "k", None, None, 0, {"no": "OrchestrationInstance"}))
    with pytest.raises(Exception):  # noqa: B017 - any error: the batch is rolled back
        store.commit_episodes([good, broken], T0)
    assert len(store.history_cache) == 0
    assert names(load(store, "a")) == ["one"] and names(load(store, "b")) == ["one"]

    skewed = step(store, "a", "gap")
    skewed = EpisodeCommit("a", skewed.execution_id, skewed.history_len + 5, skewed.outcome, [])
    assert store.commit_episodes([skewed], T0) == ["a"] and cached(store, "a") is None
    assert names(load(store, "a")) == ["one", "gap"]


def test_interleaved_instances_in_one_batch(path: Path) -> None:
    """Episodes of several instances committed together extend each instance's own history."""
    store = SqliteStore(path, "H")
    iids = [f"i{n}" for n in range(4)]
    for iid in iids:
        new(store, iid)
        run(store, iid, f"{iid}-0")
    for round_ in range(1, 4):
        assert store.commit_episodes([step(store, iid, f"{iid}-{round_}") for iid in iids], T0) == iids
    for iid in iids:
        assert names(load(store, iid)) == [f"{iid}-{n}" for n in range(4)] and cached(store, iid) == 12


def test_cache_bounds_and_extend_rules() -> None:
    """Entries unused for ``idle_s`` make room, least recently used first; while all are in use a new
    history is not kept (no round-robin thrash); a history larger than the budget is never kept; extend
    parses the appended texts and drops an entry of another length or execution; get for another
    execution drops the entry."""
    now = [0.0]
    cache = HistoryCache(max_instances=2, max_bytes=100, idle_s=10, clock=lambda: now[0])
    texts = ['{"n":1}', '{"n":2}']
    cache.put("a", "x", list(texts), [{"n": 1}, {"n": 2}])
    cache.put("b", "x", list(texts), [{"n": 1}, {"n": 2}])
    cache.put("c", "x", list(texts), [{"n": 1}, {"n": 2}])
    assert cache.get("c", "x") is None and len(cache) == 2 and cache.size_bytes == 28  # both in use
    now[0] = 5.0
    assert cache.get("a", "x") is not None  # a used at 5, b last at 0
    now[0] = 12.0
    cache.put("c", "x", list(texts), [{"n": 1}, {"n": 2}])
    assert cache.get("b", "x") is None and cache.get("a", "x") is not None and cache.get("c", "x") is not None
    cache.put("big", "x", ["x" * 101], [{}])
    assert cache.get("big", "x") is None and len(cache) == 2
    cache.extend("a", "x", 2, ['{"n":3}'])
    assert cache.get("a", "x") == (['{"n":1}', '{"n":2}', '{"n":3}'], [{"n": 1}, {"n": 2}, {"n": 3}])
    cache.extend("a", "x", 2, ['{"n":4}'])
    assert cache.get("a", "x") is None
    cache.extend("c", "y", 2, ['{"n":3}'])
    assert cache.get("c", "x") is None and len(cache) == 0
    cache.put("d", "x", ['{"n":1}'], [{"n": 1}])
    assert cache.get("d", "other") is None and cache.get("d", "x") is None
    cache.put("e", "x", ["y" * 60], [{}])
    cache.put("f", "x", ["z" * 60], [{}])  # over the bytes while e is in use: not kept
    assert cache.get("f", "x") is None and cache.size_bytes == 60
    now[0] = 30.0
    cache.put("f", "x", ["z" * 60], [{}])  # e idle: makes room
    assert cache.get("e", "x") is None and cache.get("f", "x") is not None and cache.size_bytes == 60
    cache.extend("f", "x", 1, [json.dumps("w" * 48)])  # grows past the budget with nothing idle: dropped
    assert cache.get("f", "x") is None and cache.size_bytes == 0
    cache.put("g", "x", ['{"n":1}'], [{"n": 1}])
    cache.clear()
    assert len(cache) == 0 and cache.size_bytes == 0
