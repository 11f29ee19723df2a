"""Completion coalescing in the dispatcher: an instance with activities still running replays once for many
completions, and an instance with nothing else in flight is never held back (devhost/durable/holdback.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from devhost.durable import history as h
from devhost.durable.holdback import HoldBack
from tests.devhost.durable.host.conftest import Engine


@pytest.fixture
def long_window(engine: Engine) -> Iterator[None]:
    """A coalescing window far longer than any test: only "nothing else in flight" can release an episode."""
    holds = engine.extension.dispatcher.holds
    saved = holds.coalesce_s, holds.coalesce_gap_s
    holds.coalesce_s = holds.coalesce_gap_s = 60.0
    try:
        yield
    finally:
        holds.coalesce_s, holds.coalesce_gap_s = saved


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
    """Which instances a dispatcher's hold-back (window 50 s, gap 10 s) holds back; and which it still tracks.

    Seconds, not the real defaults' milliseconds: :class:`HoldBack` reads ``time.monotonic()`` itself, and
    on a loaded machine (parallel test workers on 2 cores) more than 10 ms may pass between the test's
    ``now`` and that read. The rule under test is the same at any scale."""

    async def run() -> tuple[set[str], set[str]]:
        holds = HoldBack(lambda: None, coalesce_s=50.0, coalesce_gap_s=10.0)
        holds.running.update(running)
        holds.pending.update(pending)
        held = holds.coalescing()  # arms a wake-up: needs the running loop
        holds.cancel()
        return held, set(holds.pending)

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
