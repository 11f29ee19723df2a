"""The host clock: SystemClock waits, VirtualClock manual and idle-driven time skipping."""

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from devhost.clock import SystemClock, VirtualClock, make_clock

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def run(coro):
    return asyncio.run(coro)


def test_make_clock_names() -> None:
    """The command-line names build the right clocks; anything else is a ValueError."""
    assert isinstance(make_clock("system"), SystemClock)
    virtual = make_clock("virtual", START)
    manual = make_clock("virtual-manual", START)
    assert isinstance(virtual, VirtualClock) and virtual.auto_advance
    assert isinstance(manual, VirtualClock) and not manual.auto_advance
    assert manual.now() == START
    with pytest.raises(ValueError, match="unknown clock"):
        make_clock("sundial")


def test_system_clock_now_is_aware_utc() -> None:
    """now() is timezone-aware UTC."""
    assert SystemClock().now().tzinfo is UTC


def test_system_clock_sleep_until_deadline_and_wake() -> None:
    """sleep_until returns True at the deadline, False when woken first."""

    async def scenario() -> tuple[bool, bool, bool]:
        clock = SystemClock()
        reached = await clock.sleep(0.01)
        wake = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, wake.set)
        woken = await clock.sleep(5, wake)
        already = await clock.sleep(5, wake)  # wake still set: returns at once
        return reached, woken, already

    assert run(scenario()) == (True, False, False)


def test_virtual_advance_moves_time_and_never_backwards() -> None:
    """advance() adds seconds or a timedelta; a negative delta is refused."""
    clock = VirtualClock(START, auto_advance=False)
    assert clock.advance(30) == START + timedelta(seconds=30)
    assert clock.advance(timedelta(hours=1)) == START + timedelta(hours=1, seconds=30)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    assert clock.advance_to(START) == START + timedelta(hours=1, seconds=30)


def test_manual_clock_wakes_only_due_sleepers() -> None:
    """A manual clock wakes sleepers whose deadline is reached, in deadline order, and no others."""

    async def scenario() -> list[str]:
        clock = VirtualClock(START, auto_advance=False)
        woke: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(name)

        tasks = [asyncio.create_task(sleeper("late", 120)), asyncio.create_task(sleeper("early", 60))]
        await asyncio.sleep(0.05)
        assert woke == [] and clock.pending_sleepers() == 2
        assert clock.next_deadline() == START + timedelta(seconds=60)
        clock.advance(61)
        await asyncio.sleep(0.01)
        assert woke == ["early"]
        assert clock.advance_to_next() == START + timedelta(seconds=120)
        await asyncio.gather(*tasks)
        assert clock.advance_to_next() is None  # nobody sleeps any more
        clock.close()
        return woke

    assert run(scenario()) == ["early", "late"]


def test_auto_advance_skips_idle_time() -> None:
    """With auto-advance, an hour-long sleep finishes (within a 30 s liveness bound, not a measurement)."""

    async def scenario() -> None:
        clock = VirtualClock(START, auto_advance=True, settle_s=0.01)
        assert await asyncio.wait_for(clock.sleep(3600), 30) is True
        assert clock.now() == START + timedelta(hours=1)
        clock.close()

    run(scenario())


def test_busy_blocks_auto_advance() -> None:
    """While work is in progress (busy), virtual time stands still."""

    async def scenario() -> None:
        clock = VirtualClock(START, auto_advance=True, settle_s=0.01)
        with clock.busy():
            task = asyncio.create_task(clock.sleep(60))
            await asyncio.sleep(0.1)
            assert not task.done() and clock.now() == START
        assert await asyncio.wait_for(task, 2) is True
        clock.close()

    run(scenario())


def test_wake_event_interrupts_virtual_sleep() -> None:
    """Setting the wake event returns False without moving time."""

    async def scenario() -> None:
        clock = VirtualClock(START, auto_advance=False)
        wake = asyncio.Event()
        task = asyncio.create_task(clock.sleep(600, wake))
        await asyncio.sleep(0.01)
        wake.set()
        assert await asyncio.wait_for(task, 1) is False
        assert clock.now() == START
        assert clock.pending_sleepers() == 0
        clock.close()

    run(scenario())


def test_advance_from_another_thread_wakes_the_loop_sleeper() -> None:
    """Tests advance time from their own thread; the sleeper on the host loop wakes."""

    async def scenario() -> None:
        clock = VirtualClock(START, auto_advance=False)
        task = asyncio.create_task(clock.sleep(30))
        await asyncio.sleep(0.01)
        threading.Thread(target=clock.advance, args=(30,)).start()
        assert await asyncio.wait_for(task, 2) is True
        clock.close()

    run(scenario())


def test_set_auto_advance_resumes_skipping() -> None:
    """Switching auto-advance on lets a pending sleeper through."""

    async def scenario() -> None:
        clock = VirtualClock(START, auto_advance=False, settle_s=0.01)
        task = asyncio.create_task(clock.sleep(300))
        await asyncio.sleep(0.05)
        assert not task.done()
        clock.set_auto_advance(True)
        assert await asyncio.wait_for(task, 2) is True
        assert clock.now() == START + timedelta(seconds=300)
        clock.close()

    run(scenario())


def test_past_deadline_returns_immediately() -> None:
    """A deadline already reached returns True at once, without registering a sleeper."""

    async def scenario() -> None:
        clock = VirtualClock(START, auto_advance=False)
        assert await clock.sleep_until(START - timedelta(seconds=1)) is True
        assert clock.pending_sleepers() == 0

    run(scenario())


def test_auto_advance_jumps_over_recurring_sleepers_to_a_one_off_deadline() -> None:
    """A recurring sleeper (a timer trigger's next occurrence, every 5 min) does not stop the clock on its
    way to a one-off deadline 24 h away: one jump, and both sleepers wake at the later time. With only the
    recurring sleeper left, the clock steps to it."""

    async def scenario() -> tuple[datetime, datetime, datetime]:
        clock = VirtualClock(START, auto_advance=True, settle_s=0.01)
        recurring = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=5), recurring=True))
        one_off = asyncio.create_task(clock.sleep_until(START + timedelta(hours=24)))
        assert await one_off is True and await recurring is True
        woke_at = clock.now()
        assert clock.next_target() is None
        second = asyncio.create_task(clock.sleep_until(woke_at + timedelta(minutes=5), recurring=True))
        assert await second is True
        stepped_to = clock.now()
        clock.close()
        return woke_at, stepped_to, START

    woke_at, stepped_to, start = run(scenario())
    assert woke_at == start + timedelta(hours=24)
    assert stepped_to == woke_at + timedelta(minutes=5)
