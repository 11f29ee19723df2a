"""Which ready instances a dispatcher round leaves out, and when the loop must wake up for them.

:class:`HoldBack` owns the three reasons :mod:`devhost.durable.dispatcher` holds an instance with visible
inbox messages out of a round (:meth:`HoldBack.excluded` is the ``exclude`` set of
``TaskHubStore.ready_instances``). Every wait here is real time (``time.monotonic`` and a
``loop.call_later`` wake-up), never the host clock, so a ``VirtualClock(auto_advance=True)`` does not skip
ahead over them.

- Completion coalescing. While an instance still has activities running in this dispatcher, its committed
  activity results wait for more of its results while they keep coming (gaps of at most ``coalesce_gap_s``),
  at most ``coalesce_s`` from the first, so a fan-out of N activities is replayed a few times instead of once
  per batch of completions (the SDK replays the whole history in every episode). An instance with nothing
  else in flight is never held back, and results are committed as soon as they arrive either way: this
  changes when the next episode runs, never what is durable. The Azure Storage backend batches likewise
  (control-queue messages fetched together form one episode, DurableTask.AzureStorage).
- Host failures (issue 10 item 7). An instance whose episode failed inside the host is held back for 0.2 s,
  0.4 s, … (at most 30 s) before its next attempt; the dispatcher counts the attempts and fails the
  instance when they are used up.
- ``versionFailureStrategy`` Reject (:mod:`devhost.durable.versioning`). An instance whose work item was
  abandoned for a version mismatch is held back 2, 4, 8 … 300 s, like an abandoned queue message becoming
  visible again (DTFx ``TaskOrchestrationDispatcher`` abandons the work item), so a terminate sent
  meanwhile is handled when the wait ends.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable

COALESCE_S = 0.05  # longest real-time wait for more completions of an instance with activities in flight
COALESCE_GAP_S = 0.01  # ... and longest wait for the next one


class HoldBack:
    """The hold-back state of one dispatcher (module docstring). ``wake()`` is called (on the event loop,
    from a ``call_later`` timer) when the earliest coalescing or Reject wait ends; ``coalesce_s`` /
    ``coalesce_gap_s`` bound how long (s, in all / since the last one) activity results wait for an
    instance's other running activities (0: never). Methods that arm a timer need a running event loop."""

    def __init__(self, wake: Callable[[], None], coalesce_s: float = COALESCE_S,
                 coalesce_gap_s: float = COALESCE_GAP_S) -> None:
        self.wake = wake
        self.coalesce_s, self.coalesce_gap_s = coalesce_s, coalesce_gap_s
        self.running: Counter[str] = Counter()  # instance → its activities running here
        self.pending: dict[str, tuple[float, float]] = {}  # instance → monotonic first/last unplayed result
        self.errors: dict[str, tuple[int, float]] = {}  # instance → (host failures, monotonic retry time)
        self.rejected: dict[str, tuple[int, float]] = {}  # instance → (abandons, monotonic retry time)
        self._coalesce_timer: asyncio.TimerHandle | None = None
        self._reject_timer: asyncio.TimerHandle | None = None

    def excluded(self) -> set[str]:
        """The instances a round leaves out now: failing in the host, coalescing, or rejected."""
        return self.failing() | self.coalescing() | self.abandoned()

    def cancel(self) -> None:
        """Cancel the armed wake-ups (the dispatcher stops)."""
        for timer in (self._coalesce_timer, self._reject_timer):
            if timer is not None:
                timer.cancel()

    # -- completion coalescing -----------------------------------------------------------------------------
    def activity_started(self, instance_id: str) -> None:
        """One more activity of the instance runs in this dispatcher."""
        self.running[instance_id] += 1

    def activity_finished(self, instance_id: str) -> None:
        """One activity of the instance finished (its result is about to be recorded)."""
        self.running[instance_id] -= 1
        if self.running[instance_id] <= 0:
            del self.running[instance_id]

    def results_recorded(self, instance_ids: Iterable[str]) -> None:
        """Activity results of these instances were committed and wait for an episode."""
        mono = time.monotonic()
        for iid in instance_ids:
            self.pending[iid] = (self.pending.get(iid, (mono,))[0], mono)

    def episode_planned(self, instance_id: str) -> None:
        """An episode consumed the instance's waiting results."""
        self.pending.pop(instance_id, None)

    def coalescing(self) -> set[str]:
        """Instances whose activity results wait for their other running activities (module docstring);
        arms a real-time wake-up for the earliest deadline."""
        if not self.pending:
            return set()
        mono, held, due = time.monotonic(), set(), None
        for iid, (first, last) in list(self.pending.items()):
            if not self.running.get(iid):
                del self.pending[iid]  # nothing else in flight: never held back
                continue
            until = min(first + self.coalesce_s, last + self.coalesce_gap_s)
            if mono < until:
                held.add(iid)
                due = until if due is None else min(due, until)
        if due is not None:
            if self._coalesce_timer is not None:
                self._coalesce_timer.cancel()
            self._coalesce_timer = asyncio.get_running_loop().call_later(due - mono, self.wake)
        return held

    # -- host failures -------------------------------------------------------------------------------------
    def host_failure(self, instance_id: str) -> int:
        """Count a host failure of the instance's episode and hold it back 0.2 s, 0.4 s, … (≤ 30 s);
        returns how many it has had since its last commit."""
        n = self.errors.get(instance_id, (0, 0.0))[0] + 1
        self.errors[instance_id] = (n, time.monotonic() + min(0.1 * 2**n, 30))
        return n

    def committed(self, instance_id: str) -> None:
        """An episode of the instance was committed: its host failures are forgotten."""
        self.errors.pop(instance_id, None)

    def failing(self) -> set[str]:
        """Instances whose last episode failed in the host, until their retry time."""
        mono = time.monotonic()
        return {iid for iid, (_n, until) in self.errors.items() if until > mono}

    def next_retry(self) -> float | None:
        """The earliest monotonic retry time of an instance failing in the host (the loop's sleep ends
        then at the latest), or None."""
        return min((until for _n, until in self.errors.values()), default=None)

    # -- versionFailureStrategy Reject ---------------------------------------------------------------------
    def reject(self, instance_id: str) -> float:
        """The instance's work item was abandoned: hold it back 2, 4, 8 … 300 s. Returns the delay (s)."""
        n = self.rejected.get(instance_id, (0, 0.0))[0] + 1
        delay = min(2.0**n, 300.0)
        self.rejected[instance_id] = (n, time.monotonic() + delay)
        return delay

    def accepted(self, instance_id: str) -> None:
        """An episode of the instance ran its work item: no longer rejected."""
        self.rejected.pop(instance_id, None)

    def abandoned(self) -> set[str]:
        """Instances rejected for a version mismatch, until their retry time; a real-time wake-up is armed
        for the earliest, so a terminate sent meanwhile is handled when it ends."""
        mono = time.monotonic()
        held = {iid: until for iid, (_n, until) in self.rejected.items() if until > mono}
        if held:
            if self._reject_timer is not None:
                self._reject_timer.cancel()
            self._reject_timer = asyncio.get_running_loop().call_later(min(held.values()) - mono, self.wake)
        return set(held)
