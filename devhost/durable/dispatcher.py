"""The one loop that moves task hub work: orchestration episodes, activities and due durable timers.

After durabletask-go ``backend/worker.go``: the loop asks the store for instances with visible inbox
messages (at most ``maxConcurrentOrchestratorFunctions`` episodes per round, never two for one instance) and
for unlocked activity work items (at most ``maxConcurrentActivityFunctions``), runs each as a task, and
otherwise sleeps on the host clock until the next durable timer is due or new work wakes it
(``clock.sleep_until(next_due, wake)``). While it works it holds ``clock.busy()``, so a
``VirtualClock(auto_advance=True)`` skips ahead only when the hub is idle.

Episodes call the orchestrator's SDK wrapper inline on the loop (:mod:`replay`) in batches committed in one
transaction, each between Executing/Executed log lines; an entity batch (:mod:`entities`) calls the entity
function on a worker thread and is committed with the others. A batch replays for about
``episode_slice_s`` of real time (8 ms; episodes loaded four at a time), then commits and lets the loop
serve HTTP requests and activity completions; the ready instances it left run in the next round, oldest
message first (issue 15: a batch of 20 case episodes held the loop, and every request waiting on it, for
tens of ms). Activities run through the host's Invoker (Executing/Executed logs, functionTimeout). At start
every activity lock is released: this process is the hub's only worker, so a locked item belongs to a
crashed run and runs again (at-least-once, as in Azure).

Host-side failures never hang an instance (issue 10 item 7). An activity whose result cannot be built
(input not decodable, result not encodable) completes as TaskFailed with the error. When recording a batch
of results fails, each is recorded alone; one that still fails is recorded as TaskFailed naming the error;
if even that fails (the store is down) the results are kept and recorded on a later round, and the work
items are abandoned (unlocked, so they run again) at stop. An episode that fails inside the host (replay
set-up, history handling, its commit) is retried after 0.2 s and 0.4 s, then its instance is failed
(runtime status Failed, ``output``/``failureDetails`` naming the error), all within about a second.

Which ready instances a round leaves out (completion coalescing, host-failure retry delays,
``versionFailureStrategy`` Reject) and the real-time wake-ups for them: :mod:`devhost.durable.holdback`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from devhost.durable import history as h
from devhost.durable import http_task, versioning
from devhost.durable.actions import HTTP_ACTIVITY
from devhost.durable.entities import EntityRunner, is_entity_id
from devhost.durable.holdback import COALESCE_GAP_S, COALESCE_S, HoldBack
from devhost.durable.invocations import host_task_failed, index_functions, run_activity, run_episode
from devhost.durable.models import ActivityWorkItem, EpisodeInput
from devhost.durable.runtime_state import RuntimeState
from devhost.durable.store import ActivityResult, EpisodeCommit
from devhost.functions.interfaces import FunctionInfo

if TYPE_CHECKING:
    from devhost.clock import Clock
    from devhost.durable.options import DurableOptions
    from devhost.durable.store import AsyncStore
    from devhost.functions.interfaces import Invoker


HOST_ATTEMPTS = 3  # episode attempts failing inside the host before the instance is failed
RECORD_RETRY_S = 0.5  # real-time wait before recording results again after the store failed
EPISODE_SLICE_S = 0.008  # real time a round replays before it commits and lets the loop serve the rest
LOAD_CHUNK = 4  # episodes loaded at a time within a round


class Dispatcher:
    """Moves the work of one task hub. ``on_commit(instance_id)`` is called after each committed episode;
    ``coalesce_s`` / ``coalesce_gap_s`` bound how long (s, in all / since the last one) activity results wait
    for an instance's other running activities (:class:`~devhost.durable.holdback.HoldBack`; 0: never)."""

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
        http_token: Callable[[str], str | None] = lambda _resource: None,
        episode_slice_s: float = EPISODE_SLICE_S,
    ) -> None:
        self.store = store
        self.clock = clock
        self.invoker = invoker
        self.options = options
        self.log = logger
        self.on_commit = on_commit
        self.orchestrators = index_functions(functions, "orchestrationTrigger", "orchestration")
        self.activities = index_functions(functions, "activityTrigger", "activity")
        self.entities = EntityRunner(functions, logger)  # entity batches (@name@key instances)
        self._wake = asyncio.Event()
        self._round_now = clock.now()  # the time the last round read work at (_run)
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running_act = 0
        self.holds = HoldBack(self._wake.set, coalesce_s, coalesce_gap_s)  # instances left out of a round
        self.episode_slice_s = episode_slice_s
        self.http_token = http_token  # managed identity resource → local bearer token (http_task)
        self._http: httpx.AsyncClient | None = None
        self._results: list[ActivityResult] = []
        self._record_after = 0.0  # monotonic time before which recording is not retried (store failed)

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
        self.holds.cancel()
        if self._loop_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._loop_task, timeout_s)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        for task in list(self._tasks):
            task.cancel()
        if self._results:
            results, self._results = self._results, []
            if not await self._record(results, self.clock.now()):
                with contextlib.suppress(Exception):  # unlocked: they run again on the next start anyway
                    await self.store.abandon_activities([r.item for r in self._results])
        if self._http is not None:
            await self._http.aclose()

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
                    # The round's own now: a manual virtual clock moved past a timer meanwhile would else
                    # leave no deadline to wait for (a lost wake-up; unit/test_dispatcher_loop.py).
                    next_due = None if worked else await self.store.next_visible_at(self._round_now)
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
        now = self._round_now = self.clock.now()
        worked = False
        if self._results and time.monotonic() >= self._record_after:
            results, self._results = self._results, []
            if await self._record(results, now):
                self.holds.results_recorded(r.item.instance_id for r in results)
                worked = True
        if self.holds.pending:
            await self._claim()  # first, so an instance's queued activities count as in flight
        ids = await self.store.ready_instances(now, self.options.max_concurrent_orchestrators,
                                               self.holds.excluded())
        if ids and await self._run_episodes(ids, now):
            worked = True
        await self._claim()
        return worked

    async def _claim(self) -> None:
        free = self.options.max_concurrent_activities - self._running_act
        if free > 0:
            for item in await self.store.claim_activities(free):
                self._running_act += 1
                self.holds.activity_started(item.instance_id)
                self._spawn(self._activity(item))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _retry_deadline(self, next_due: datetime | None) -> datetime | None:
        """``next_due``, or earlier when a held-back instance or unrecorded results become due again."""
        retry_at = self.holds.next_retry()
        dues = [] if retry_at is None else [retry_at]
        if self._results:
            dues.append(self._record_after)
        if not dues:
            return next_due
        wait = max(0.0, min(dues) - time.monotonic())
        retry = self.clock.now() + timedelta(seconds=wait)
        return retry if next_due is None else min(next_due, retry)

    # -- orchestration episodes ----------------------------------------------------------------------------
    async def _run_episodes(self, instance_ids: list[str], now: Any) -> bool:
        """Load, replay and commit a batch of episodes (one transaction for the whole batch); True when
        something was committed. Replay runs inline on the loop: it is CPU-bound and a thread hop costs
        more than it saves under the GIL."""
        commits: list[EpisodeCommit] = []
        inputs: dict[str, EpisodeInput] = {}
        failing: set[str] = set()  # instances whose commit records their host failure
        started = time.perf_counter()
        for offset in range(0, len(instance_ids), LOAD_CHUNK):
            if offset and time.perf_counter() - started >= self.episode_slice_s:
                break  # the rest are still ready: the next round runs them, after the loop served the rest
            for loaded in await self.store.load_episodes(instance_ids[offset : offset + LOAD_CHUNK], now):
                iid = loaded.instance.instance_id
                inputs[iid] = loaded
                try:
                    if is_entity_id(iid):  # user code that may block: on a worker thread, the loop serves on
                        planned = await asyncio.to_thread(self.entities.plan, loaded, now)
                    else:
                        planned = self._plan_episode(loaded, now)
                except Exception as exc:
                    planned = self._host_failed(loaded, now, "could not run the episode", exc)
                    failing.add(iid)
                else:
                    self.holds.episode_planned(iid)
                if planned is not None:
                    commits.append(planned)
        if not commits:
            return False
        try:
            done = await self.store.commit_episodes(commits, now)
        except Exception:
            if len(commits) > 1:
                self.log.exception("Task hub: committing %d episodes failed; committing each alone",
                                   len(commits))
            done = []
            for commit in commits:
                iid = commit.instance_id
                done += await self._commit_alone(commit, inputs[iid], now, iid in failing)
        for iid in done:
            self.holds.committed(iid)
            self.on_commit(iid)
        return True

    async def _commit_alone(self, commit: EpisodeCommit, loaded: EpisodeInput, now: datetime,
                            is_failure: bool) -> list[str]:
        """Commit one episode; when that fails, count a host failure (and commit the instance's failure
        once the attempts are used up). ``is_failure``: the commit already records a host failure (if it
        fails the store is down: retried later). Returns the ids committed."""
        try:
            return await self.store.commit_episodes([commit], now)
        except Exception as exc:
            if is_failure:
                self.log.exception("Task hub: recording the failure of instance %s failed",
                                   commit.instance_id)
                return []
            failed = self._host_failed(loaded, now, "could not record the episode", exc)
        if failed is None:
            return []
        try:
            return await self.store.commit_episodes([failed], now)
        except Exception:
            self.log.exception("Task hub: recording the failure of instance %s failed", commit.instance_id)
            return []

    def _host_failed(self, loaded: EpisodeInput, now: datetime, what: str,
                     exc: BaseException) -> EpisodeCommit | None:
        """Count a host failure of the instance's episode: None (retry after 0.2 s, 0.4 s, …) until
        :data:`HOST_ATTEMPTS` is reached, then the commit that fails the instance with the error."""
        iid = loaded.instance.instance_id
        n = self.holds.host_failure(iid)
        if n < HOST_ATTEMPTS:
            self.log.warning("Episode of instance %s failed in the host (attempt %d of %d): %s: %s",
                             iid, n, HOST_ATTEMPTS, type(exc).__name__, exc, exc_info=exc)
            return None
        error = f"devhost {what} ({n} attempts): {type(exc).__name__}: {exc}"
        self.log.error("Episode of instance %s failed in the host %d times; failing the instance: %s",
                       iid, n, error, exc_info=exc)
        if is_entity_id(iid):  # an entity is never failed: its operations fail, its state stays
            return self.entities.host_failure(loaded, now, error)
        state = RuntimeState(loaded.instance, loaded.history, default_version=self.options.default_version)
        outcome = state.host_failure(loaded.messages, now, error)
        return EpisodeCommit(iid, loaded.instance.execution_id, len(loaded.history), outcome,
                             [m.id for m in loaded.messages])

    def _plan_episode(self, loaded: EpisodeInput, now: datetime) -> EpisodeCommit | None:
        state = RuntimeState(loaded.instance, loaded.history, default_version=self.options.default_version)
        batch = state.select_batch(loaded.messages)
        if not batch:
            return None
        iid = loaded.instance.instance_id
        if versioning.runs_user_code(state, batch) and self._version_mismatch(state, batch, iid):
            if self.options.version_failure_strategy != "Fail":
                return None  # Reject: abandoned, the messages stay queued
            outcome = state.finish(state.begin(list(batch), now), None, versioning.MISMATCH_MESSAGE,
                                   versioning.failure_details())
            # DTFx OrchestrationExecuting / OrchestrationExecuted / OrchestrationCompleted log events
            self.log.info("%s: Executing '%s' orchestration logic", iid, state.name)
            self.log.info("%s: Orchestration '%s' awaited and scheduled 1 durable operation(s).", iid,
                          state.name)
            self.log.info("%s: Orchestration completed with a 'Failed' status and 0 bytes of output. "
                          "Details: %s", iid, versioning.MISMATCH_MESSAGE)
        else:
            fn = self.orchestrators.get(state.name)
            outcome, _ = run_episode(state, batch, now, fn.handler if fn else None,
                                     history_texts=loaded.history_texts, log_as=fn.name if fn else None)
        self.holds.accepted(iid)
        return EpisodeCommit(loaded.instance.instance_id, loaded.instance.execution_id, len(loaded.history),
                             outcome, [m.id for m in batch])

    def _version_mismatch(self, state: RuntimeState, batch: Any, instance_id: str) -> bool:
        """Whether the instance's version fails host.json ``versionMatchStrategy`` against
        ``defaultVersion`` (:mod:`devhost.durable.versioning`); a Reject verdict is logged and the
        instance held back (:meth:`HoldBack.reject <devhost.durable.holdback.HoldBack.reject>`)."""
        opts = self.options
        version = versioning.instance_version(state, batch)
        if not versioning.mismatch(opts.version_match_strategy, opts.default_version, version):
            return False
        if opts.version_failure_strategy == "Fail":
            return True
        delay = self.holds.reject(instance_id)
        self.log.warning(
            "%s: %s: orchestration '%s' has version '%s', this host's defaultVersion is '%s' "
            "(versionMatchStrategy %s). Work item abandoned (versionFailureStrategy Reject); the instance "
            "stays %s and is tried again in %.0f s or on the next start.",
            instance_id, versioning.MISMATCH_MESSAGE, state.name, version, opts.default_version or "",
            opts.version_match_strategy, state.instance.runtime_status, delay,
        )
        return True

    # -- activities ----------------------------------------------------------------------------------------
    async def _activity(self, item: ActivityWorkItem) -> None:
        """Run one activity; its result is persisted by the next pump (with others, one transaction)."""
        try:
            try:
                try:
                    if item.name == HTTP_ACTIVITY and item.name not in self.activities:
                        event = await self._run_http(item)  # holds clock.busy() only while requesting
                    else:
                        with self.clock.busy():
                            event = await self._run_activity(item)
                except Exception as exc:  # the host failed around the invocation: TaskFailed
                    self.log.exception("Activity %s of instance %s could not be run", item.name,
                                       item.instance_id)
                    event = host_task_failed(self.clock.now(), item, "could not run the activity", exc)
                self._results.append(ActivityResult(item, event))  # after the await: pump swaps it
            finally:
                self._running_act -= 1
                self.holds.activity_finished(item.instance_id)
                self._wake.set()
        except asyncio.CancelledError:
            pass

    async def _run_http(self, item: ActivityWorkItem) -> dict[str, Any]:
        """``context.call_http`` made by the host (:mod:`devhost.durable.http_task`): TaskCompleted with
        the DurableHttpResponse JSON, or TaskFailed naming the problem."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=http_task.TIMEOUT_S, follow_redirects=True)
        try:
            spec = http_task.HttpRequestSpec.from_input(item.input)
            text = await http_task.call(spec, clock=self.clock, client=self._http, token_for=self.http_token,
                                        default_sleep_ms=self.options.http_async_sleep_ms, log=self.log)
        except http_task.DurableHttpError as exc:
            reason = str(exc)
            return h.task_failed(self.clock.now(), item.task_id, reason, json.dumps({"Message": reason}))
        return h.task_completed(self.clock.now(), item.task_id, text)

    async def _record(self, results: list[ActivityResult], now: datetime) -> bool:
        """Persist activity results (one transaction); when that fails, each alone, and a result that
        cannot be recorded as it is becomes TaskFailed naming the error. Results that cannot be recorded
        at all (the store failed) go back to ``_results`` for a later round. True when all were recorded."""
        try:
            await self.store.complete_activities(results, now)
            return True
        except Exception:
            self.log.exception("Task hub: recording %d activity result(s) failed; recording each alone",
                               len(results))
        kept: list[ActivityResult] = []
        for result in results:
            try:
                await self.store.complete_activities([result], now)
                continue
            except Exception as exc:
                failed = ActivityResult(result.item, host_task_failed(
                    now, result.item, "could not record the activity's result", exc))
            try:
                await self.store.complete_activities([failed], now)
            except Exception:
                self.log.exception("Task hub: the result of activity %s (instance %s) could not be recorded",
                                   result.item.name, result.item.instance_id)
                kept.append(result)
        if kept:
            self._results = kept + self._results
            self._record_after = time.monotonic() + RECORD_RETRY_S
        return not kept

    async def _run_activity(self, item: ActivityWorkItem) -> dict[str, Any]:
        """Invoke the activity and build its TaskCompleted / TaskFailed (see :func:`run_activity`)."""
        return await run_activity(self.activities.get(item.name), item, self.invoker, self.clock.now,
                                  sorted(self.activities))
