"""The task hub stores under test: every implementation of ``TaskHubStore`` (SQLite file, in memory)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.durable import history as h
from devhost.durable.memory_store import MemoryStore
from devhost.durable.models import InstanceState
from devhost.durable.sqlite_store import SqliteStore
from devhost.durable.store import TaskHubStore

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskHubStore]:
    """A fresh, empty task hub of each kind."""
    made: TaskHubStore = (SqliteStore(tmp_path / "t.sqlite", "H") if request.param == "sqlite"
                          else MemoryStore())
    yield made
    with contextlib.suppress(Exception):  # already closed by the test
        made.close()


def new(store: TaskHubStore, iid: str, name: str = "orch", at: datetime = T0,
        parent: dict | None = None) -> InstanceState:
    """Create instance ``iid`` (Pending, ExecutionStarted queued at ``at``)."""
    state = InstanceState(iid, name, "Pending", '"in"', None, None, at, at, "1.0", f"x-{iid}",
                          parent_instance_id=None)
    start = h.execution_started(at, name, iid, state.execution_id, '"in"', "1.0", parent)
    store.create_instance(state, start)
    return state
