"""Timer trigger listener: one loop per timer function, driven by the host clock.

Mirrors webjobs-sdk-extensions ``Timers/Listeners/TimerListener.cs`` (docs/host-behaviour.md, timer triggers):

- at start, with the schedule monitor on, a missed occurrence fires once with ``past_due=True``; else
  ``run_on_startup`` fires once; past-due wins, both never run;
- each tick invokes the function under the timer's invocation lock (one run at a time: a long run delays
  later ticks, missed ticks are not queued), ignores its outcome, then computes
  ``Next = schedule.next(max(tick start, previous Next))`` and persists the status;
- the monitor is switched off for schedules firing more than once a minute, as in the host;
- a wake-up that finds more than one occurrence passed (a virtual clock that jumped hours to a durable
  timer, a suspended laptop) runs the function once with ``past_due=True``: what the host does for
  occurrences missed while it was down. The loop's wait is marked ``recurring`` so a
  :class:`~devhost.clock.VirtualClock` jumps over these occurrences instead of stopping at each one.

The single loop is the host's singleton: one devhost process fires each occurrence once. Two devhost
processes on the same data dir would both fire (the host's blob lease is not implemented).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from azure.functions.timer import TimerRequest

from devhost.extension import HostServices
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError
from devhost.storage.ncrontab import Schedule
from devhost.storage.tasks import stop_task
from devhost.storage.timer_status import ScheduleStatus, StatusStore, check_past_due


def _flag(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


class TimerListener:
    """Fires ``function`` on ``schedule``; status files live in ``status_dir``."""

    def __init__(
        self, function: FunctionInfo, schedule: Schedule, services: HostServices, status_dir: Path
    ) -> None:
        self.function, self.schedule, self.services = function, schedule, services
        self.clock = services.clock
        self.log = logging.getLogger(f"devhost.storage.timer.{function.name}")
        self.param = str(function.trigger["name"])
        self.run_on_startup = _flag(function.trigger.get("runOnStartup"), False)
        monitor = _flag(function.trigger.get("useMonitor"), True)
        if monitor and schedule.is_sub_minute(self.clock.now()):
            self.log.debug("Schedule monitor off for '%s': it fires more than once a minute", function.name)
            monitor = False
        self.store = StatusStore(status_dir, function.name) if monitor else None
        self.status: ScheduleStatus | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the timer loop (past-due / run-on-startup check, then one tick per occurrence)."""
        self._task = asyncio.create_task(self._run(), name=f"timer-{self.function.name}")

    async def stop(self, timeout_s: float) -> None:
        """Stop arming ticks; a run in progress gets ``timeout_s`` seconds, then is cancelled."""
        self._stop.set()
        await stop_task(self._task, timeout_s)

    async def _run(self) -> None:
        now = self.clock.now()
        past_due = False
        if self.store is not None:
            past_due, self.status = check_past_due(self.store, self.schedule, now)
        next_at = self.status.next if self.status else self.schedule.next_after(now)
        if past_due:
            next_at = await self._tick(past_due=True, occurrence=None, previous_next=None)
        elif self.run_on_startup:
            next_at = await self._tick(past_due=False, occurrence=None, previous_next=None)
        while not self._stop.is_set():
            if not await self.clock.sleep_until(next_at, self._stop, recurring=True):
                break
            # Woken after the occurrence after this one too (the virtual clock jumped over several, or
            # the machine slept): run once, past due, as the host does after downtime; the next occurrence
            # is computed from now, so the skipped ones are not queued.
            skipped = self.schedule.next_after(next_at) <= self.clock.now()
            next_at = await self._tick(past_due=skipped, occurrence=next_at, previous_next=next_at)

    async def _tick(
        self, *, past_due: bool, occurrence: datetime | None, previous_next: datetime | None
    ) -> datetime:
        """Invoke once; return the next occurrence (UTC)."""
        tick_start = self.clock.now()
        await self.fire(past_due=past_due)
        base = max(tick_start, previous_next) if previous_next is not None else tick_start
        next_at = self.schedule.next_after(base)
        if self.store is not None:
            last = occurrence if occurrence is not None else tick_start
            self.status = ScheduleStatus(last, next_at, self.clock.now())
            self.store.write(self.status)
        return next_at

    def _reason(self, past_due: bool) -> str:
        """The Executing line's reason: ``Timer fired at <now>`` (plus ``(past due)`` for a catch-up run)."""
        return f"Timer fired at {self.clock.now().isoformat()}" + (" (past due)" if past_due else "")

    async def fire(self, *, past_due: bool = False, admin: bool = False) -> None:
        """Invoke the function once under the invocation lock; failures are logged, never raised.
        ``admin=True`` (``POST /admin/functions/<name>``) logs the host-API reason instead of the timer's."""
        request = TimerRequest(
            past_due=past_due,
            schedule_status=self.status.to_json() if self.status else {},
            schedule={"AdjustForDST": self.schedule.adjust_for_dst},
        )
        async with self._lock:
            try:
                await self.services.invoker.invoke(
                    self.function,
                    {self.param: request},
                    {},
                    reason=None if admin else self._reason(past_due),
                )
            except FunctionInvocationError:
                pass  # logged by the invoker; errors never stop the schedule
            except Exception as exc:
                self.log.error("Timer function '%s' could not be invoked: %s", self.function.name, exc)
