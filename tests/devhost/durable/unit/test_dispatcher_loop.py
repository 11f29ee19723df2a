"""The dispatcher loop's wait (devhost/durable/dispatcher.py ``_run``): the deadline it sleeps towards is
asked of the store with the time the round read its work at, so a manual virtual clock moved on by another
thread during the round (tests/e2e/test_e2e_reliability.py's ``drive``) cannot leave it waiting for a
wake-up that never comes. A stub store stands in; no sockets, no host."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.clock import VirtualClock
from devhost.durable.dispatcher import Dispatcher
from devhost.durable.options import DurableOptions

T0 = datetime(2030, 1, 1, tzinfo=UTC)
TIMER = T0 + timedelta(seconds=2)  # a durable timer's inbox message, visible from then on


class _Store:
    """Ready work: the instance once ``now`` reaches TIMER. The first round's read of ready work is
    followed by a test thread's ``advance`` past TIMER (here: inside the read)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock, self.rounds, self.ready_seen = clock, 0, asyncio.Event()

    async def ready_instances(self, now: datetime, limit: int, exclude: set[str]) -> list[str]:
        self.rounds += 1
        if self.rounds == 1:
            self.clock.advance(5)  # the clock moves on while the round works
            return []
        if now >= TIMER:
            self.ready_seen.set()
        return []

    async def next_visible_at(self, now: datetime) -> datetime | None:
        return TIMER if now < TIMER else None  # strictly later messages only, as the stores answer

    async def claim_activities(self, limit: int) -> list[Any]:
        return []


def test_a_timer_passed_during_a_round_is_still_run() -> None:
    async def run() -> bool:
        clock = VirtualClock(T0, auto_advance=False)
        store = _Store(clock)
        d = Dispatcher(store, clock, [], store, DurableOptions(), logging.getLogger("test"))  # type: ignore[arg-type]
        loop = asyncio.ensure_future(d._run())
        try:
            await asyncio.wait_for(store.ready_seen.wait(), 5)  # a generous hang check, not a speed bound
            return True
        except TimeoutError:
            return False
        finally:
            d._stopping = True
            d._wake.set()
            await asyncio.wait_for(loop, 5)
            clock.close()

    assert asyncio.run(run()), "the loop slept without a deadline after the clock passed the timer"
