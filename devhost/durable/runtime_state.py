"""Orchestration semantics, pure: persisted history + new events + the SDK's returned state → what to persist.

No SQL, no I/O, no user code. :class:`RuntimeState` is built from one instance's current-execution history
and answers three questions for an episode:

1. :meth:`RuntimeState.select_batch` – which inbox messages this episode consumes (control messages alone,
   held events while Suspended, at most one retry-relevant completion and only as the batch's last event so
   sequence numbers match the SDK's replay order,
   docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions,
   docs/durable-extension-protocol.md#retries);
2. :meth:`RuntimeState.begin` – the episode's new history events (OrchestratorStarted + messages) and
   whether user code must run (terminate, suspend, resume need none; rewind rewrites history first);
3. :meth:`RuntimeState.finish` – given the SDK's OrchestratorState: history events to append, activity work
   items, timers (delayed TimerFired messages), messages to other instances (sub-orchestration start,
   completion to the parent), timers to cancel, the new runtime status, output and custom status.

Mirrors DTFx ``TaskOrchestrationDispatcher`` + the extension's ``OutOfProcOrchestrationShim`` (retries as DTFx
``RetryInterceptor``: TimerCreated after every failed attempt, also after the last) and durabletask-go
``backend/runtimestate.go`` (``ApplyActions``). Background: docs/durable-extension-protocol.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from devhost.durable import entities
from devhost.durable import history as h
from devhost.durable.actions import (
    CALL_ACTIVITY_RETRY,
    CALL_ENTITY,
    CALL_HTTP,
    CALL_SUB,
    CALL_SUB_RETRY,
    CONTINUE_AS_NEW,
    CREATE_TIMER,
    HTTP_ACTIVITY,
    SCHEDULED_SIGNAL,
    SIGNAL_ENTITY,
    WAIT_EVENT,
    describe_action,
    flatten_actions,
    matches,
)
from devhost.durable.models import STATUS_VALUES, TERMINAL_STATUSES, InboxMessage, InstanceState
from devhost.durable.outcome import ActivityTask, ChildStart, Episode, EpisodeOutcome, Outbound, TimerMessage
from devhost.durable.retries import RetryChain
from devhost.durable.rewind import rewind_history

Event = dict[str, Any]
MAX_BATCH = 1000


class RuntimeState:
    """The current execution of one instance, indexed for an episode (see module docstring).

    ``default_version`` is host.json ``defaultVersion`` (used for sub-orchestrations whose action has no
    ``version``); ``new_id`` makes execution ids (uuid4 hex by default; tests pass a counter).
    """

    def __init__(
        self,
        instance: InstanceState,
        history: list[Event],
        *,
        default_version: str | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.instance = instance
        self.history = history
        self.default_version = default_version
        self._new_id = new_id
        self.started: Event | None = None
        self.leaves: list[Event] = []
        self.next_id = 0
        self.chains: dict[int, RetryChain] = {}
        self.attempt_ids: dict[int, RetryChain] = {}
        self.timer_ids: dict[int, RetryChain] = {}
        for e in history:
            self._index(e)

    def _index(self, e: Event) -> None:
        t = e.get("EventType")
        if t == h.EXECUTION_STARTED:
            self.started = e
        if t not in h.SCHEDULE_TYPES:
            return
        eid = int(e["EventId"])
        self.next_id = max(self.next_id, eid + 1)
        retry_of = e.get("_RetryOf")
        if retry_of is not None:
            chain = self.chains[int(retry_of)]
            if t == h.TIMER_CREATED:
                chain.timer = eid
                self.timer_ids[eid] = chain
            else:
                chain.attempts += 1
                chain.current = eid
                self.attempt_ids[eid] = chain
            return
        self.leaves.append(e)
        if e.get("_RetryOptions") is not None:
            chain = RetryChain(
                first_id=eid,
                kind=int(t),
                name=str(e.get("Name")),
                input=e.get("Input"),
                options=dict(e["_RetryOptions"]),
                version=e.get("Version"),
                instance_id=e.get("_GivenInstanceId"),
                current=eid,
            )
            self.chains[eid] = chain
            self.attempt_ids[eid] = chain

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.started["Name"]) if self.started else self.instance.name

    @property
    def version(self) -> str:
        return str((self.started or {}).get("Version") or "")

    @property
    def execution_id(self) -> str:
        if self.started:
            return str(self.started["OrchestrationInstance"]["ExecutionId"])
        return self.instance.execution_id

    @property
    def parent(self) -> dict[str, Any] | None:
        return (self.started or {}).get("ParentInstance")

    def is_retry_relevant(self, event: Event) -> bool:
        """A failure of a retried attempt or the firing of a retry timer (the SDK allocates a sequence
        number while processing it, so it must be the last event of its batch)."""
        t = event.get("EventType")
        if t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED):
            return int(event.get("TaskScheduledId", -1)) in self.attempt_ids
        if t == h.TIMER_FIRED:
            return int(event.get("TimerId", -1)) in self.timer_ids
        return False

    # -- 1. batch ----------------------------------------------------------------------------------------
    def select_batch(self, messages: list[InboxMessage]) -> list[InboxMessage]:
        """The messages this episode consumes, in order (see module docstring)."""
        if not messages:
            return []
        types = [m.event.get("EventType") for m in messages]
        if h.EXECUTION_TERMINATED in types:
            return messages[: types.index(h.EXECUTION_TERMINATED) + 1]
        status = self.instance.runtime_status
        if status in TERMINAL_STATUSES:
            if status == "Failed" and h.EXECUTION_REWOUND in types:
                return [messages[types.index(h.EXECUTION_REWOUND)]]
            return list(messages)  # stale: dropped by begin()
        if status == "Suspended":
            for m, t in zip(messages, types, strict=True):
                if t == h.EXECUTION_RESUMED:
                    return [m]
            return []
        batch: list[InboxMessage] = []
        for m, t in zip(messages, types, strict=True):
            if t in h.CONTROL_TYPES:
                if not batch:
                    batch.append(m)
                break
            batch.append(m)
            if self.is_retry_relevant(m.event) or len(batch) >= MAX_BATCH:
                break
        return batch

    # -- 2. begin ----------------------------------------------------------------------------------------
    def begin(self, batch: list[InboxMessage], now: datetime) -> Episode:
        """Start an episode at ``now`` (the OrchestratorStarted timestamp) consuming ``batch``."""
        started = h.orchestrator_started(now)
        events = [m.event for m in batch]
        types = [e.get("EventType") for e in events]
        status = self.instance.runtime_status
        if h.EXECUTION_TERMINATED in types:
            return self._terminate(now, started, events)
        if status in TERMINAL_STATUSES:
            if status == "Failed" and types == [h.EXECUTION_REWOUND]:
                return self._rewind(now, started)
            return Episode(now, [], False, EpisodeOutcome(status, state_changed=False))  # stale: drop
        if types and types[0] == h.EXECUTION_SUSPENDED:
            out = EpisodeOutcome("Suspended", append=[started, events[0], h.orchestrator_completed(now)])
            return Episode(now, [], False, out)
        if types and types[0] == h.EXECUTION_RESUMED:
            resumed = "Running" if self.started else status
            out = EpisodeOutcome(resumed, append=[started, events[0], h.orchestrator_completed(now)])
            return Episode(now, [], False, out)
        if types and types[0] == h.EXECUTION_REWOUND:
            return Episode(now, [], False, EpisodeOutcome(status, state_changed=False))  # not failed
        new_events = [started]
        for e in events:
            if e.get("EventType") == h.EXECUTION_STARTED:
                if self.started is not None:
                    continue  # duplicate start of a running execution
                self._index(e)
            new_events.append(e)
        if self.started is None:
            return Episode(now, [], False, EpisodeOutcome(status, state_changed=False))
        return Episode(now, new_events, True)

    def _terminate(self, now: datetime, started: Event, events: list[Event]) -> Episode:
        term = next(e for e in events if e.get("EventType") == h.EXECUTION_TERMINATED)
        reason = term.get("Input")
        append = [started]
        for e in events:
            if e.get("EventType") == h.EXECUTION_STARTED and self.started is None:
                self._index(e)
                append.append(e)
        append += [
            term,
            h.execution_completed(now, STATUS_VALUES["Terminated"], reason),
            h.orchestrator_completed(now),
        ]
        out = EpisodeOutcome("Terminated", append=append, output=json.dumps(reason))
        out.messages += self._notify_parent(now, failed=True, reason=reason or "", details=None)
        return Episode(now, [], False, out)

    def _rewind(self, now: datetime, started: Event) -> Episode:
        """Rewind a failed execution (see :func:`devhost.durable.rewind.rewind_history`); user code then
        replays the rewritten history."""
        retried = {c.current for c in self.chains.values()}
        timers = {tid: c.timer for tid, c in self.attempt_ids.items() if c.timer is not None}
        rewritten, work = rewind_history(self.history, now, set(self.attempt_ids), retried, timers)
        fresh = RuntimeState(self.instance, rewritten, default_version=self.default_version,
                             new_id=self._new_id)
        self.__dict__.update(fresh.__dict__)
        return Episode(now, [started], True, base_history=rewritten, rewind_work=work)

    # -- 3. finish ---------------------------------------------------------------------------------------
    def finish(
        self, episode: Episode, state: dict[str, Any] | None, error: str | None = None,
        failure_details: dict[str, Any] | None = None,
    ) -> EpisodeOutcome:
        """Turn the SDK's OrchestratorState (``state``; None with ``error`` when the handler broke the
        protocol or did not run; ``failure_details`` then replaces the usual FailureDetails, e.g. the
        version mismatch of :mod:`devhost.durable.versioning`) into the episode's outcome
        (docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions,
        docs/durable-extension-protocol.md#continue-as-new-custom-status-ids-versions,
        docs/durable-extension-protocol.md#an-episode-step-by-step)."""
        if episode.outcome is not None:
            return episode.outcome
        now = episode.now
        out = EpisodeOutcome("Running")
        appended: list[Event] = list(episode.new_events)
        state = state or {}
        if "customStatus" in state:
            out.custom_status = json.dumps(state["customStatus"])
            out.custom_status_set = True
        leaves = list(flatten_actions(state.get("actions") or []))
        can = next((a for a in leaves if a.get("actionType") == CONTINUE_AS_NEW), None)
        leaves = [a for a in leaves if a.get("actionType") not in (WAIT_EVENT, CONTINUE_AS_NEW)]
        failure = error if error is not None else state.get("error")
        for action, event in zip(leaves, self.leaves, strict=False):
            if not matches(action, event):
                failure = (
                    "Non-Deterministic workflow detected: the orchestrator now schedules "
                    f"{describe_action(action)} where the history has {h.describe_event(event)} "
                    f"(sequence number {event.get('EventId')}). Was the orchestrator code changed while "
                    "this instance was running?"
                )
                break
            if action.get("actionType") == CREATE_TIMER and action.get("isCanceled"):
                out.cancel_timers.append(int(event["EventId"]))
        if failure is None:
            for action in leaves[len(self.leaves):]:
                if action.get("actionType") == SCHEDULED_SIGNAL:  # no Python SDK 1.x API emits it
                    failure = "Scheduled entity signals (actionType 10) are not supported by devhost."
                    break
        if failure is not None:
            self._fail(out, appended, now, str(failure), failure_details)
        elif state.get("isDone") and can is not None:
            self._continue_as_new(out, appended, now, can.get("input"))
        elif state.get("isDone"):
            result = json.dumps(state["output"]) if "output" in state else None
            appended.append(h.execution_completed(now, STATUS_VALUES["Completed"], result))
            out.runtime_status, out.output = "Completed", result
            out.messages += self._notify_parent(now, failed=False, result=result)
        else:
            for action in leaves[len(self.leaves):]:
                appended.append(self._schedule(out, action, now))
            for e in episode.new_events:
                self._apply_retry(out, appended, e, now)
        appended.append(h.orchestrator_completed(now))
        if episode.base_history is not None:
            out.new_history = episode.base_history + appended
            if episode.rewind_work is not None and not out.is_terminal:
                out.activities = episode.rewind_work.activities + out.activities
                out.messages = episode.rewind_work.messages + out.messages
        else:
            out.append = appended
        return out

    def host_failure(self, messages: list[InboxMessage], now: datetime, error: str) -> EpisodeOutcome:
        """The outcome that fails this execution because the HOST could not run or record its episode
        (``error`` says why): runtime status Failed with the error, the parent told as for any failure.
        A stale message to a finished instance changes nothing. ``messages`` are the inbox messages the
        episode would have consumed (an ExecutionStarted among them starts the history first)."""
        if self.instance.runtime_status in TERMINAL_STATUSES:
            return EpisodeOutcome(self.instance.runtime_status, state_changed=False)
        out = EpisodeOutcome("Failed")
        appended = [h.orchestrator_started(now)]
        if self.started is None:
            start = next((m.event for m in messages if m.event.get("EventType") == h.EXECUTION_STARTED), None)
            if start is not None:
                self._index(start)
                appended.append(start)
        self._fail(out, appended, now, error)
        appended.append(h.orchestrator_completed(now))
        out.append = appended
        return out

    def _fail(self, out: EpisodeOutcome, appended: list[Event], now: datetime, error: str,
              details: dict[str, Any] | None = None) -> None:
        message = f"Orchestrator function '{self.name}' failed: {error}"
        failure = {"ErrorType": "OrchestrationFailureException", "ErrorMessage": message}
        if details is not None:
            failure, message = dict(details), str(details.get("ErrorMessage"))
        appended.append(h.execution_completed(now, STATUS_VALUES["Failed"], message, failure))
        out.runtime_status, out.output, out.failure = "Failed", json.dumps(message), failure
        out.messages += self._notify_parent(
            now, failed=True, reason=message, details=f"Message: {error}, StackTrace: "
        )

    def _continue_as_new(
        self, out: EpisodeOutcome, appended: list[Event], now: datetime, new_input: Any
    ) -> None:
        """docs/durable-extension-protocol.md#continue-as-new-custom-status-ids-versions: the execution ends
        ContinuedAsNew; a new one with the same id, name, version and parent
        starts from a fresh history with the action's input."""
        appended.append(h.execution_completed(now, STATUS_VALUES["ContinuedAsNew"], new_input))
        out.runtime_status = "ContinuedAsNew"
        out.continue_as_new = h.execution_started(
            now, self.name, self.instance.instance_id, self._new_id(),
            None if new_input is None else str(new_input), self.version, self.parent,
        )

    def _notify_parent(
        self, now: datetime, *, failed: bool, result: str | None = None, reason: str = "",
        details: str | None = None,
    ) -> list[Outbound]:
        parent = self.parent
        if not parent:
            return []
        pid = str(parent["OrchestrationInstance"]["InstanceId"])
        task_id = int(parent["TaskScheduleId"])
        if failed:
            return [Outbound(pid, h.sub_orchestration_failed(now, task_id, reason, details))]
        return [Outbound(pid, h.sub_orchestration_completed(now, task_id, result))]

    def _schedule(self, out: EpisodeOutcome, action: dict[str, Any], now: datetime) -> Event:
        """History event + work for one new action
        (docs/durable-extension-protocol.md#an-episode-step-by-step step 5)."""
        eid = self.next_id
        self.next_id += 1
        t = action.get("actionType")
        if t == CREATE_TIMER:
            fire_at = h.parse_timestamp(str(action["fireAt"]))
            ev = h.timer_created(now, eid, fire_at)
            if not action.get("isCanceled"):
                out.timers.append(TimerMessage(eid, fire_at, h.timer_fired(fire_at, eid, fire_at)))
        elif t in (CALL_SUB, CALL_SUB_RETRY):
            name = str(action.get("functionName"))
            version = action.get("version")
            if version is None:
                version = self.default_version
            given = action.get("instanceId")
            ev = self._start_child(out, now, eid, name, version, given, action.get("input"))
            if t == CALL_SUB_RETRY:
                ev["_RetryOptions"] = dict(action.get("retryOptions") or {})
                ev["_GivenInstanceId"] = given
        elif t in (CALL_ENTITY, SIGNAL_ENTITY):
            ev, message = entities.orchestration_request(now, eid, action, self.instance.instance_id,
                                                         signal=t == SIGNAL_ENTITY)
            out.messages.append(message)
        else:  # activities and CallHttp
            inp: str | None
            if t == CALL_HTTP:
                name, inp = HTTP_ACTIVITY, json.dumps(action.get("httpRequest"))
            else:
                name, inp = str(action.get("functionName")), action.get("input")
            ev = h.task_scheduled(now, eid, name, inp)
            if t == CALL_ACTIVITY_RETRY:
                ev["_RetryOptions"] = dict(action.get("retryOptions") or {})
            out.activities.append(ActivityTask(eid, name, inp))
        self._index(ev)
        return ev

    def _start_child(
        self, out: EpisodeOutcome, now: datetime, eid: int, name: str, version: str | None,
        given: str | None, inp: str | None,
    ) -> Event:
        child_id = given or f"{self.execution_id}:{eid}"
        parent = {
            "Name": self.name,
            "Version": self.version,
            "OrchestrationInstance": {
                "InstanceId": self.instance.instance_id, "ExecutionId": self.execution_id,
            },
            "TaskScheduleId": eid,
        }
        start = h.execution_started(now, name, child_id, self._new_id(), inp, version or "", parent)
        out.child_starts.append(ChildStart(child_id, name, version, inp, eid, start))
        return h.sub_orchestration_created(now, eid, name, version, child_id, inp)

    def _apply_retry(self, out: EpisodeOutcome, appended: list[Event], e: Event, now: datetime) -> None:
        """docs/durable-extension-protocol.md#retries: a failed attempt gets a retry timer (also the last
        one); a fired retry timer with attempts
        left schedules the next attempt."""
        t = e.get("EventType")
        if t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED):
            chain = self.attempt_ids.get(int(e.get("TaskScheduledId", -1)))
            if chain is None or chain.current != int(e["TaskScheduledId"]):
                return
            eid = self.next_id
            fire_at = now + timedelta(milliseconds=chain.delay_ms())
            ev = h.timer_created(now, eid, fire_at)
            ev["_RetryOf"] = chain.first_id
            out.timers.append(TimerMessage(eid, fire_at, h.timer_fired(fire_at, eid, fire_at)))
        elif t == h.TIMER_FIRED:
            chain = self.timer_ids.get(int(e.get("TimerId", -1)))
            if chain is None or chain.timer != int(e["TimerId"]) or chain.attempts >= chain.max_attempts:
                return
            eid = self.next_id
            if chain.kind == h.SUB_ORCHESTRATION_CREATED:
                ev = self._start_child(
                    out, now, eid, chain.name, chain.version, chain.instance_id, chain.input
                )
            else:
                ev = h.task_scheduled(now, eid, chain.name, chain.input)
                out.activities.append(ActivityTask(eid, chain.name, chain.input))
            ev["_RetryOf"] = chain.first_id
        else:
            return
        self._index(ev)
        appended.append(ev)

