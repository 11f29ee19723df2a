"""Completion coalescing in the dispatcher: an instance with activities still running replays once for many
completions, and an instance with nothing else in flight is never held back (dispatcher module docstring)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devhost.clock import SystemClock
from devhost.durable import history as h
from devhost.durable.dispatcher import Dispatcher
from devhost.durable.options import DurableOptions
from tests.devhost.durable.host.conftest import Engine


@pytest.fixture
def long_window(engine: Engine) -> Iterator[None]:
    """A coalescing window far longer than any test: only "nothing else in flight" can release an episode."""
    dispatcher = engine.extension.dispatcher
    saved = dispatcher.coalesce_s, dispatcher.coalesce_gap_s
    dispatcher.coalesce_s = dispatcher.coalesce_gap_s = 60.0
    try:
        yield
    finally:
        dispatcher.coalesce_s, dispatcher.coalesce_gap_s = saved


def _episodes(engine: Engine, instance_id: str) -> int:
    return engine.history_types(instance_id).count(h.ORCHESTRATOR_STARTED)


def test_fan_out_results_wait_for_the_running_activities(engine: Engine, long_window: None) -> None:
    """200 activities (20 concurrency slots) complete in two episodes: the start and one with every result."""
    iid = engine.start("fan_out", "200")
    state = engine.wait(iid, 60)
    assert json.loads(state.output or "") == 2 * sum(range(200))
    assert _episodes(engine, iid) == 2
    types = engine.history_types(iid)
    assert types.count(h.TASK_SCHEDULED) == 200 and types.count(h.TASK_COMPLETED) == 200


def test_instance_with_nothing_else_in_flight_is_not_held(engine: Engine, long_window: None) -> None:
    """Chained activities: each result is the instance's only work, so it replays at once (the wait's 20 s
    liveness bound is shorter than the 60 s window)."""
    iid = engine.start("chain")
    state = engine.wait(iid, 20)
    assert state.runtime_status == "Completed"
    assert json.loads(state.output or "") == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert _episodes(engine, iid) == 4


def _held(running: dict[str, int], pending: dict[str, tuple[float, float]]) -> tuple[set[str], set[str]]:
    """Which instances a dispatcher (window 50 s, gap 10 s) holds back; and which it still tracks.

    Seconds, not the real defaults' milliseconds: the dispatcher reads ``time.monotonic()`` itself, and on a
    loaded machine (parallel test workers on 2 cores) more than 10 ms may pass between the test's ``now``
    and that read. The rule under test is the same at any scale."""

    async def run() -> tuple[set[str], set[str]]:
        store: Any = None  # never touched by _coalescing
        d = Dispatcher(store, SystemClock(), [], store, DurableOptions(), logging.getLogger("test"),
                       coalesce_s=50.0, coalesce_gap_s=10.0)
        d._running_by.update(running)
        d._pending.update(pending)
        held = d._coalescing()
        if d._coalesce_timer is not None:
            d._coalesce_timer.cancel()
        return held, set(d._pending)

    return asyncio.run(run())


def test_results_are_held_only_while_others_run_and_keep_coming() -> None:
    """Held: others running, last result < gap ago, first < window ago. Released otherwise."""
    now = time.monotonic()
    held, tracked = _held(
        {"busy": 3, "quiet": 2, "old": 5},
        {"busy": (now, now), "quiet": (now - 20.0, now - 20.0), "old": (now - 60.0, now),
         "alone": (now, now)},
    )
    assert held == {"busy"}
    assert tracked == {"busy", "quiet", "old"}  # "alone" has nothing in flight: forgotten, never held


def test_a_round_replays_for_its_time_slice_and_the_rest_run_next_round(engine: Engine) -> None:
    """With a zero time slice each round replays one load chunk of the ready instances and commits it; the
    others stay ready and run in the following rounds (the loop serves HTTP and activities in between)."""
    dispatcher = engine.extension.dispatcher
    saved = dispatcher.episode_slice_s
    dispatcher.episode_slice_s = 0.0
    try:
        ids = [engine.start("chain") for _ in range(12)]
        states = [engine.wait(iid, 30) for iid in ids]
    finally:
        dispatcher.episode_slice_s = saved
    assert [s.runtime_status for s in states] == ["Completed"] * 12
    assert all(_episodes(engine, iid) == 4 for iid in ids)
