"""The one loop that moves task hub work: orchestration episodes, activities and due durable timers.

After durabletask-go ``backend/worker.go``: the loop asks the store for instances with visible inbox
messages (at most ``maxConcurrentOrchestratorFunctions`` episodes per round, never two for one instance) and
for unlocked activity work items (at most ``maxConcurrentActivityFunctions``), runs each as a task, and
otherwise sleeps on the host clock until the next durable timer is due or new work wakes it
(``clock.sleep_until(next_due, wake)``). While it works it holds ``clock.busy()``, so a
``VirtualClock(auto_advance=True)`` skips ahead only when the hub is idle.

Episodes call the orchestrator's SDK wrapper inline on the loop (:mod:`replay`) in batches committed in one
transaction, each between Executing/Executed log lines; activities run through the host's Invoker
(Executing/Executed logs, functionTimeout). At start every activity lock is
released: this process is the hub's only worker, so a locked item belongs to a crashed run and runs again
(at-least-once, as in Azure).

Completions are coalesced: while an instance still has activities running in this dispatcher, its committed
activity results wait for more of its results while they keep coming (gaps of at most ``coalesce_gap_s``),
at most ``coalesce_s`` from the first (real time), so a fan-out of N activities is replayed a few times
instead of once per batch of completions (the SDK replays the whole history in every episode). An instance
with nothing else in flight is never held back, and results are committed as soon as they arrive either way:
this changes when the next episode runs, never what is durable. The Azure Storage backend batches likewise
(control-queue messages fetched together form one episode).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.durable import history as h
from devhost.durable.models import ActivityWorkItem
from devhost.durable.outcome import HTTP_ACTIVITY, payload_input
from devhost.durable.replay import ReplayResult, build_payload, execute, played_text
from devhost.durable.runtime_state import RuntimeState
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError
from devhost.logs import function_logger

if TYPE_CHECKING:
    from devhost.clock import Clock
    from devhost.durable.options import DurableOptions
    from devhost.durable.store import AsyncStore
    from devhost.functions.interfaces import Invoker



def index_functions(
    functions: Sequence[FunctionInfo], trigger: str, alias_key: str
) -> dict[str, FunctionInfo]:
    """Functions with trigger type ``trigger`` by name, plus their ``orchestration=``/``activity=`` alias
    (the extension registers the alias, the SDK calls by function name:
    docs/durable-extension-protocol.md#registration)."""
    found: dict[str, FunctionInfo] = {}
    for fn in functions:
        if fn.trigger_type != trigger:
            continue
        found[fn.name] = fn
        alias = fn.trigger.get(alias_key)
        if alias:
            found.setdefault(str(alias), fn)
    return found


COALESCE_S = 0.05  # longest real-time wait for more completions of an instance with activities in flight
COALESCE_GAP_S = 0.01  # ... and longest wait for the next one


class Dispatcher:
    """Moves the work of one task hub. ``on_commit(instance_id)`` is called after each committed episode;
    ``coalesce_s`` / ``coalesce_gap_s`` bound how long (s, in all / since the last one) activity results wait
    for an instance's other running activities (module docstring; 0: never)."""

    def __init__(
        self,
        store: AsyncStore,
        clock: Clock,
        functions: Sequence[FunctionInfo],
        invoker: Invoker,
        options: DurableOptions,
        logger: logging.Logger,
        on_commit: Callable[[str], None] = lambda _iid: None,
        coalesce_s: float = COALESCE_S,
        coalesce_gap_s: float = COALESCE_GAP_S,
    ) -> None:
        self.store = store
        self.clock = clock
        self.invoker = invoker
        self.options = options
        self.log = logger
        self.on_commit = on_commit
        self.orchestrators = index_functions(functions, "orchestrationTrigger", "orchestration")
        self.activities = index_functions(functions, "activityTrigger", "activity")
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running_act = 0
        self.coalesce_s, self.coalesce_gap_s = coalesce_s, coalesce_gap_s
        self._running_by: Counter[str] = Counter()  # instance → its activities running here
        self._pending: dict[str, tuple[float, float]] = {}  # instance → monotonic first/last unplayed result
        self._coalesce_timer: asyncio.TimerHandle | None = None
        self._results: list[tuple[ActivityWorkItem, dict[str, Any]]] = []
        self._errors: dict[str, tuple[int, float]] = {}  # instance → (failures, monotonic retry time)

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Release stale activity locks and start the loop."""
        released = await self.store.release_locks()
        if released:
            self.log.info("Task hub: %d activity work item(s) of a previous run will run again", released)
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="durable-dispatcher")

    def wake(self) -> None:
        """New work was queued (thread-safe only from the event loop's thread)."""
        self._wake.set()

    async def stop(self, timeout_s: float) -> None:
        """Stop taking work, let running episodes and activities finish for at most ``timeout_s``."""
        self._stopping = True
        self._wake.set()
        if self._coalesce_timer is not None:
            self._coalesce_timer.cancel()
        if self._loop_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._loop_task, timeout_s)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        for task in list(self._tasks):
            task.cancel()
        if self._results:
            results, self._results = self._results, []
            await self.store.complete_activities(results, self.clock.now())

    @property
    def idle(self) -> bool:
        """No episode or activity is running."""
        return self._running_act == 0 and not self._results

    # -- the loop ------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                with self.clock.busy():
                    worked = await self._pump()
                    next_due = None if worked else await self.store.next_visible_at(self.clock.now())
                    next_due = self._retry_deadline(next_due)
            except Exception:
                self.log.exception("Task hub dispatcher failed; retrying")
                worked, next_due = False, None
                await asyncio.sleep(0.5)
            if self._stopping:
                break
            if worked:
                await asyncio.sleep(0)  # let HTTP requests and activity completions in
                continue
            await self.clock.sleep_until(next_due, self._wake)

    async def _pump(self) -> bool:
        """One round: persist finished activities, run a batch of episodes, start activities. Returns
        True when it did something (the loop then goes round again before sleeping)."""
        now = self.clock.now()
        worked = False
        if self._results:
            results, self._results = self._results, []
            await self.store.complete_activities(results, now)
            mono = time.monotonic()
            for item, _event in results:
                self._pending[item.instance_id] = (self._pending.get(item.instance_id, (mono,))[0], mono)
            worked = True
        if self._pending:
            await self._claim()  # first, so an instance's queued activities count as in flight
        ids = await self.store.ready_instances(
            now, self.options.max_concurrent_orchestrators, self._poisoned(now) | self._coalescing()
        )
        if ids and await self._run_episodes(ids, now):
            worked = True
        await self._claim()
        return worked

    async def _claim(self) -> None:
        free = self.options.max_concurrent_activities - self._running_act
        if free > 0:
            for item in await self.store.claim_activities(free):
                self._running_act += 1
                self._running_by[item.instance_id] += 1
                self._spawn(self._activity(item))

    def _coalescing(self) -> set[str]:
        """Instances whose activity results wait for their other running activities (module docstring);
        arms a real-time wake-up for the earliest deadline."""
        if not self._pending:
            return set()
        mono, held, due = time.monotonic(), set(), None
        for iid, (first, last) in list(self._pending.items()):
            if not self._running_by.get(iid):
                del self._pending[iid]  # nothing else in flight: never held back
                continue
            until = min(first + self.coalesce_s, last + self.coalesce_gap_s)
            if mono < until:
                held.add(iid)
                due = until if due is None else min(due, until)
        if due is not None:
            if self._coalesce_timer is not None:
                self._coalesce_timer.cancel()
            self._coalesce_timer = asyncio.get_running_loop().call_later(due - mono, self._wake.set)
        return held

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _poisoned(self, now: Any) -> set[str]:
        """Instances whose last episode crashed in the host, held back for a growing (real) delay."""
        mono = time.monotonic()
        return {iid for iid, (_n, until) in self._errors.items() if until > mono}

    def _retry_deadline(self, next_due: datetime | None) -> datetime | None:
        """``next_due``, or earlier when a held-back instance becomes eligible again."""
        if not self._errors:
            return next_due
        wait = max(0.0, min(until for _n, until in self._errors.values()) - time.monotonic())
        retry = self.clock.now() + timedelta(seconds=wait)
        return retry if next_due is None else min(next_due, retry)

    # -- orchestration episodes ----------------------------------------------------------------------------
    async def _run_episodes(self, instance_ids: list[str], now: Any) -> bool:
        """Load, replay and commit a batch of episodes (one transaction for the whole batch); True when
        something was committed. Replay runs inline on the loop: it is CPU-bound and a thread hop costs
        more than it saves under the GIL."""
        commits = []
        for loaded in await self.store.load_episodes(instance_ids, now):
            iid = loaded.instance.instance_id
            try:
                planned = self._plan_episode(loaded, now)
            except Exception:
                n = self._errors.get(iid, (0, 0.0))[0] + 1
                self._errors[iid] = (n, time.monotonic() + min(0.1 * 2**n, 30))
                self.log.exception("Episode of instance %s failed in the host (attempt %d)", iid, n)
                continue
            self._errors.pop(iid, None)
            self._pending.pop(iid, None)
            if planned is not None:
                commits.append(planned)
        if not commits:
            return False
        for iid in await self.store.commit_episodes(commits, now):
            self.on_commit(iid)
        return True

    def _plan_episode(self, loaded: Any, now: Any) -> tuple[str, str, int, Any, list[int]] | None:
        state = RuntimeState(loaded.instance, loaded.history, default_version=self.options.default_version)
        batch = state.select_batch(loaded.messages)
        if not batch:
            return None
        episode = state.begin(batch, now)
        result = ReplayResult(None)
        if episode.needs_user_code:
            result = self._replay(state, episode, loaded.history_texts, loaded.instance.instance_id)
        outcome = state.finish(episode, result.state, result.error)
        return (loaded.instance.instance_id, loaded.instance.execution_id, len(loaded.history), outcome,
                [m.id for m in batch])

    def _replay(self, state: RuntimeState, episode: Any, texts: list[str], instance_id: str) -> ReplayResult:
        fn = self.orchestrators.get(state.name)
        if fn is None:
            return ReplayResult(
                None,
                f"The function '{state.name}' doesn't exist, is disabled, or is not an orchestrator "
                "function.",
            )
        played = texts if episode.base_history is None else [played_text(e) for e in episode.base_history]
        parent = state.parent
        payload = build_payload(
            instance_id,
            parent["OrchestrationInstance"]["InstanceId"] if parent else None,
            played,
            episode.new_events,
            payload_input((state.started or {}).get("Input")),
        )
        return _logged_episode(fn.name, instance_id, lambda: execute(fn.handler, payload))

    # -- activities ----------------------------------------------------------------------------------------
    async def _activity(self, item: ActivityWorkItem) -> None:
        """Run one activity; its result is persisted by the next pump (with others, one transaction)."""
        try:
            with self.clock.busy():
                try:
                    event = await self._run_activity(item)
                    self._results.append((item, event))  # after the await: pump swaps the list
                except Exception:
                    self.log.exception(
                        "Activity %s of instance %s could not be run", item.name, item.instance_id
                    )
                finally:
                    self._running_act -= 1
                    self._running_by[item.instance_id] -= 1
                    if self._running_by[item.instance_id] <= 0:
                        del self._running_by[item.instance_id]
                    self._wake.set()
        except asyncio.CancelledError:
            pass

    async def _run_activity(self, item: ActivityWorkItem) -> dict[str, Any]:
        """Invoke the activity and build TaskCompleted / TaskFailed
        (docs/durable-extension-protocol.md#activities)."""
        fn = self.activities.get(item.name)
        if fn is None and item.name == HTTP_ACTIVITY:
            reason = "Durable HTTP (context.call_http) is not supported by devhost; call an activity instead."
            return h.task_failed(self.clock.now(), item.task_id, reason, json.dumps({"Message": reason}))
        if fn is None:
            reason = (
                f"The function '{item.name}' doesn't exist, is disabled, or is not an activity function. "
                f"Additional info: known activities are {sorted(self.activities) or 'none'}."
            )
            return h.task_failed(self.clock.now(), item.task_id, reason, json.dumps({"Message": reason}))
        value = ActivityTriggerConverter.decode(
            meta.Datum(type="string", value=item.input if item.input is not None else "null"),
            trigger_metadata=None,
        )
        try:
            result = await self.invoker.invoke(
                fn, {str(fn.trigger["name"]): value}, {"instanceId": item.instance_id}
            )
            text = ActivityTriggerConverter.encode(result.return_value, expected_type=None).value
            return h.task_completed(self.clock.now(), item.task_id, text)
        except FunctionInvocationError as exc:
            cause = exc.cause
            message = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
            stack = "".join(traceback.format_exception(cause)) if cause is not None else ""
        except Exception as exc:  # result not JSON-serialisable
            message, stack = f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))
        reason = f"Activity function '{item.name}' failed:  {message}"
        details = json.dumps({"Message": f" {message}", "StackTrace": stack})
        return h.task_failed(self.clock.now(), item.task_id, reason, details)


def _logged_episode(name: str, instance_id: str, run: Callable[[], ReplayResult]) -> ReplayResult:
    """Run one orchestrator episode between the Functions host's Executing/Executed lines (category
    ``Function.<Name>``, as for any invocation; the durable extension adds the instance id)."""
    log = function_logger(name)
    if not log.isEnabledFor(logging.INFO):
        return run()
    inv_id = str(uuid.uuid4())
    log.info("Executing 'Functions.%s' (Reason='(null)', Id=%s) for instance %s", name, inv_id, instance_id)
    started = time.monotonic()
    result = run()
    failed = result.error is not None or result.user_error or bool((result.state or {}).get("error"))
    status = "Failed" if failed else "Succeeded"
    log.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", name, status, inv_id,
             (time.monotonic() - started) * 1000)
    return result
