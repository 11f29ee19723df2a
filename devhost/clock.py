"""One clock for the whole host: durable timers, timestamps, queue visibility, timer triggers and pollers.

Every component that waits calls :meth:`Clock.sleep_until` and every component that stamps time calls
:meth:`Clock.now`, so tests can swap the :class:`SystemClock` for a :class:`VirtualClock` and skip hours of
approval timeouts in milliseconds (the idea of Temporal's time-skipping test environment,
``WorkflowEnvironment.start_time_skipping()``).

Times are timezone-aware UTC ``datetime`` objects; durations are ``timedelta`` or seconds (float).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta


class Clock:
    """Interface every waiter and time-stamper uses.

    ``now()`` is safe from any thread. ``sleep_until`` must be awaited on the host's event loop.
    """

    kind = "abstract"

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        raise NotImplementedError

    async def sleep_until(
        self, deadline: datetime | None, wake: asyncio.Event | None = None, *, recurring: bool = False
    ) -> bool:
        """Wait until ``now() >= deadline`` or ``wake`` is set, whichever comes first.

        ``deadline=None`` waits for ``wake`` only. Returns True when the deadline was reached, False when
        woken. The caller clears ``wake`` itself (so no wake-up is ever lost). ``recurring=True`` marks the
        wait of a recurring schedule (a timer trigger's next occurrence): a virtual clock does not stop
        at it on its way to another deadline (see :class:`VirtualClock`); real clocks ignore the flag.
        """
        raise NotImplementedError

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Like :meth:`sleep_until` with ``now() + seconds``."""
        return await self.sleep_until(self.now() + timedelta(seconds=seconds), wake)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Mark work in progress (an invocation, an episode): a virtual clock never advances meanwhile."""
        yield


class SystemClock(Clock):
    """The machine's clock (``datetime.now(UTC)``); waits are real ``asyncio`` sleeps."""

    kind = "system"

    def now(self) -> datetime:
        """The machine's time, timezone-aware UTC (see :meth:`Clock.now`)."""
        return datetime.now(UTC)

    async def sleep_until(
        self, deadline: datetime | None, wake: asyncio.Event | None = None, *, recurring: bool = False
    ) -> bool:
        """A real ``asyncio`` wait for ``deadline`` or ``wake`` (see :meth:`Clock.sleep_until`)."""
        timeout = None if deadline is None else max(0.0, (deadline - self.now()).total_seconds())
        if wake is None:
            if timeout is None:
                await asyncio.Event().wait()  # forever; cancelled by the caller
            await asyncio.sleep(timeout or 0)
            return True
        if wake.is_set():
            return False
        try:
            await asyncio.wait_for(wake.wait(), timeout)
            return False
        except TimeoutError:
            return True


class VirtualClock(Clock):
    """A clock that moves only when told to, or (``auto_advance=True``) when the host is idle.

    Idle means: nothing is inside :meth:`busy` and no sleeper is already due, continuously for
    ``settle_s`` of real time (so an HTTP request or a poller about to start work gets its chance).
    Then the clock jumps to the earliest sleeper's deadline and wakes it, and every other sleeper due by
    then. Sleepers marked ``recurring`` (timer triggers) are jumped over when a one-off deadline (a durable
    timer, a retry) is pending: time goes straight to that deadline, and a timer whose occurrences were
    skipped runs once, past due (devhost/storage/timer_listener.py), as the Functions host does after
    downtime. With only recurring sleepers left, the clock steps to the earliest one. With
    ``auto_advance=False`` tests move time with :meth:`advance` / :meth:`advance_to_next`.

    Mirrors Temporal's time-skipping test server (``temporalio.testing.WorkflowEnvironment``).
    """

    kind = "virtual"

    def __init__(
        self,
        start: datetime | None = None,
        *,
        auto_advance: bool = True,
        settle_s: float = 0.05,
    ) -> None:
        self._now = (start or datetime.now(UTC)).astimezone(UTC)
        self.auto_advance = auto_advance
        self.settle_s = settle_s
        self._lock = threading.Lock()
        self._heap_lock = threading.Lock()  # guards _sleepers: tests advance time from other threads
        self._busy = 0
        self._sleepers: list[tuple[datetime, int, asyncio.Future[bool]]] = []
        self._recurring: set[asyncio.Future[bool]] = set()  # sleepers of recurring schedules
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None

    # -- reading -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The virtual time, timezone-aware UTC; safe from any thread (see :meth:`Clock.now`)."""
        with self._lock:
            return self._now

    def next_deadline(self) -> datetime | None:
        """Earliest deadline among pending sleepers, or None. Safe from any thread."""
        with self._heap_lock:
            self._prune()
            return self._sleepers[0][0] if self._sleepers else None

    def next_target(self) -> datetime | None:
        """Where an idle auto-advancing clock jumps next: the earliest deadline of a one-off sleeper, else
        the earliest recurring one, else None. Safe from any thread."""
        with self._heap_lock:
            self._prune()
            pending = [(d, fut) for d, _, fut in self._sleepers if not fut.done()]
        one_off = [d for d, fut in pending if fut not in self._recurring]
        if one_off:
            return min(one_off)
        return min((d for d, _ in pending), default=None)

    def pending_sleepers(self) -> int:
        """How many sleepers with a deadline are waiting (tests use it to know a timer is armed)."""
        with self._heap_lock:
            self._prune()
            return sum(1 for _, _, fut in self._sleepers if not fut.done())

    # -- moving time ---------------------------------------------------------------------------------
    def advance(self, delta: timedelta | float) -> datetime:
        """Move time forward by ``delta`` (timedelta or seconds) and wake every sleeper now due."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=float(delta))
        if delta < timedelta(0):
            raise ValueError("a virtual clock never goes backwards")
        with self._lock:
            self._now += delta
            now = self._now
        self._wake_due(now)
        return now

    def advance_to(self, when: datetime) -> datetime:
        """Move time forward to ``when`` (no-op if already past it)."""
        return self.advance(max(timedelta(0), when - self.now()))

    def advance_to_next(self) -> datetime | None:
        """Jump to the earliest pending deadline and wake its sleepers; None when nobody sleeps."""
        deadline = self.next_deadline()
        if deadline is None:
            return None
        return self.advance_to(deadline)

    def set_auto_advance(self, enabled: bool) -> None:
        """Switch idle time-skipping on or off."""
        self.auto_advance = enabled
        self._poke()

    # -- waiting ---------------------------------------------------------------------------------------
    async def sleep_until(
        self, deadline: datetime | None, wake: asyncio.Event | None = None, *, recurring: bool = False
    ) -> bool:
        """Register a waiter; the clock jumps to its ``deadline`` when the host is idle (see
        :meth:`Clock.sleep_until`; a ``recurring`` one is jumped over when a one-off deadline is due
        later)."""
        self._attach()
        if deadline is not None and self.now() >= deadline:
            return True
        if wake is not None and wake.is_set():
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        if deadline is not None:
            with self._heap_lock:
                heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
                if recurring:
                    self._recurring.add(fut)
                    fut.add_done_callback(self._recurring.discard)
        self._poke()
        waiters: list[asyncio.Future[object]] = [fut]  # type: ignore[list-item]
        wake_task = asyncio.ensure_future(wake.wait()) if wake is not None else None
        if wake_task is not None:
            waiters.append(wake_task)  # type: ignore[arg-type]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if wake_task is not None and not wake_task.done():
                wake_task.cancel()
            if not fut.done():
                fut.cancel()
            self._poke()
        return fut.done() and not fut.cancelled() and fut.result()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Count work in progress; the clock never advances while any is (see :meth:`Clock.busy`)."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
            self._poke()

    # -- internals -------------------------------------------------------------------------------------
    def _prune(self) -> None:
        """Drop finished sleepers from the heap top; the caller holds ``_heap_lock``."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _wake_due(self, now: datetime) -> None:
        loop = self._loop
        if loop is None:
            return

        def wake() -> None:
            with self._heap_lock:
                self._prune()
                due = []
                while self._sleepers and self._sleepers[0][0] <= now:
                    due.append(heapq.heappop(self._sleepers)[2])
            for fut in due:
                if not fut.done():
                    fut.set_result(True)

        if _running_loop() is loop:
            wake()
        else:
            loop.call_soon_threadsafe(wake)

    def _attach(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._changed = asyncio.Event()
            self._ticker = loop.create_task(self._tick(), name="virtual-clock")

    def _poke(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None or loop.is_closed():
            return
        if _running_loop() is loop:
            changed.set()
        else:
            loop.call_soon_threadsafe(changed.set)

    async def _tick(self) -> None:
        assert self._changed is not None
        changed = self._changed
        while True:
            await changed.wait()
            changed.clear()
            # Settle: idle must hold for settle_s of real time with no change in between.
            while True:
                if not self.auto_advance or self._busy or self.next_target() is None:
                    break
                start = time.monotonic()
                try:
                    await asyncio.wait_for(changed.wait(), self.settle_s)
                    changed.clear()
                    continue  # something changed: re-check
                except TimeoutError:
                    pass
                if time.monotonic() - start >= self.settle_s and not self._busy:
                    target = self.next_target()
                    if target is not None:
                        self.advance_to(target)
                    break

    def close(self) -> None:
        """Stop the background ticker (tests call it; the host calls it on shutdown)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
            self._loop = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def make_clock(kind: str, start: datetime | None = None) -> Clock:
    """Build the clock named on the command line: ``system``, ``virtual`` (auto-advance) or
    ``virtual-manual`` (moves only through :meth:`VirtualClock.advance` / ``POST /admin/clock``).

    Raises ValueError for any other name.
    """
    if kind == "system":
        return SystemClock()
    if kind == "virtual":
        return VirtualClock(start, auto_advance=True)
    if kind == "virtual-manual":
        return VirtualClock(start, auto_advance=False)
    raise ValueError(f"unknown clock {kind!r}: expected system, virtual or virtual-manual")
