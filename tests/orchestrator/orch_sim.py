"""A tiny host for orchestrator tests: drives a generator orchestrator through the SDK's real replay.

Each episode builds the orchestration trigger payload by hand
(docs/durable-extension-protocol.md#the-orchestration-payload,
docs/durable-extension-protocol.md#history-events: PascalCase
events, integer EventType, IsPlayed true for earlier episodes), calls the SDK's ``Orchestrator.create(fn)``
handler with it, and reads the OrchestratorState
(docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions). New actions become history the
way the extension
writes it: TaskScheduled / SubOrchestrationInstanceCreated / TimerCreated with sequence ids in scheduling
order, waits taking none (docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions);
activity retries follow the DTFx pattern (docs/durable-extension-protocol.md#retries: failure → retry timer →
rescheduled task, ids taken by the SDK in that order). Activities are plain callables run in-process;
sub-orchestrations are callables returning their JSON result; timers fire when nothing else is pending
(like the virtual clock) or when the test calls :meth:`Sim.fire_due`.

Everything is deterministic: episode timestamps advance one second per episode from ``start``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df


def ts(dt: datetime) -> str:
    """UTC timestamp text as .NET writes it (7 fractional digits)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_fire_at(text: str) -> datetime:
    """``fireAt`` of a CreateTimer action (``%Y-%m-%dT%H:%M:%S.%fZ``) as aware UTC."""
    return datetime.strptime(text.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def flatten(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first leaves of the cumulative action list (compound WhenAll/WhenAny expanded)."""
    leaves: list[dict[str, Any]] = []
    for action in actions:
        if action.get("actionType") in (11, 12):
            leaves.extend(flatten(action.get("compoundActions", [])))
        else:
            leaves.append(action)
    return leaves


@dataclass
class Work:
    """A scheduled item: ``kind`` activity | sub | timer, its sequence ``id`` and details."""

    kind: str
    id: int
    name: str = ""
    input: Any = None
    instance_id: str | None = None
    fire_at: datetime | None = None
    retry: dict[str, Any] | None = None
    attempt: int = 1
    leaf_index: int | None = None


@dataclass
class Sim:
    """Run ``orchestrator`` (a generator function taking the context) as instance ``instance_id``."""

    orchestrator: Callable[..., Any]
    instance_id: str
    input: Any
    activities: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    subs: dict[str, Callable[[str, Any], Any]] = field(default_factory=dict)
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    history: list[dict[str, Any]] = field(default_factory=list)
    played: int = 0
    now: datetime | None = None
    next_id: int = 0
    leaves_seen: int = 0
    timer_leaves: int = 0
    pending: list[Work] = field(default_factory=list)
    timers: list[Work] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    episodes: int = 0

    def __post_init__(self) -> None:
        self.handler = df.Orchestrator.create(self.orchestrator)
        self.now = self.start

    # -- events ---------------------------------------------------------------------------------------
    def _event(self, event_type: int, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        assert self.now is not None
        return {"EventType": event_type, "EventId": event_id, "Timestamp": ts(self.now), **fields}

    def raise_event(self, name: str, data: Any) -> None:
        """Queue an EventRaised for the next episode (Input = JSON text of ``data``)."""
        self.inbox.append(self._event(15, Name=name, Input=json.dumps(data)))

    # -- episodes -------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the orchestrator returned or failed."""
        return bool(self.state.get("isDone")) or "error" in self.state

    @property
    def output(self) -> Any:
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")

    def _episode(self, new_events: list[dict[str, Any]]) -> None:
        assert self.now is not None
        self.episodes += 1
        self.now = self.now + timedelta(seconds=1)
        for e in new_events:
            e["Timestamp"] = ts(self.now)
        fresh = [self._event(12), *new_events]
        old = [{**e, "IsPlayed": True} for e in self.history]
        payload = {
            "history": old + [{**e, "IsPlayed": False} for e in fresh],
            "input": json.dumps(self.input),
            "instanceId": self.instance_id,
            "isReplaying": bool(old),
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
        }
        try:
            self.state = json.loads(self.handler(json.dumps(payload)))
        except Exception as exc:
            text = str(exc)
            if "$OutOfProcData$:" not in text:
                raise
            self.state = json.loads(text.split("$OutOfProcData$:", 1)[1])
        self.history.extend(fresh)
        self._schedule()
        self.history.append(self._event(13))

    def _schedule(self) -> None:
        leaves = flatten(self.state.get("actions", [[]])[0] if self.state.get("actions") else [])
        for leaf in leaves[self.leaves_seen :]:
            kind = leaf["actionType"]
            if kind == 6:  # wait: takes no id
                continue
            work_id = self.next_id
            self.next_id += 1
            if kind in (0, 1):
                self.history.append(
                    self._event(4, work_id, Name=leaf["functionName"], Version="", Input=leaf["input"])
                )
                self.pending.append(
                    Work(
                        "activity",
                        work_id,
                        leaf["functionName"],
                        json.loads(leaf["input"]),
                        retry=leaf.get("retryOptions"),
                    )
                )
            elif kind in (2, 3):
                instance = leaf.get("instanceId") or f"{self.instance_id}:{work_id}"
                self.history.append(
                    self._event(
                        7,
                        work_id,
                        Name=leaf["functionName"],
                        Version="",
                        InstanceId=instance,
                        Input=leaf["input"],
                    )
                )
                self.pending.append(
                    Work(
                        "sub", work_id, leaf["functionName"], json.loads(leaf["input"]), instance_id=instance
                    )
                )
            elif kind == 5:
                fire_at = parse_fire_at(leaf["fireAt"])
                self.history.append(self._event(10, work_id, FireAt=leaf["fireAt"]))
                self.timers.append(Work("timer", work_id, fire_at=fire_at, leaf_index=self.timer_leaves))
                self.timer_leaves += 1
            else:
                raise AssertionError(f"action type {kind} not supported by the sim")
        self.leaves_seen = len(leaves)
        # a cancelled timer's action flips isCanceled in later episodes
        # (docs/durable-extension-protocol.md#timers): drop it, as the host does
        timer_leaves = [leaf for leaf in leaves if leaf.get("actionType") == 5]
        self.timers = [
            w for w in self.timers if w.leaf_index is None or not timer_leaves[w.leaf_index].get("isCanceled")
        ]

    def begin(self) -> None:
        """The first episode (ExecutionStarted)."""
        self._episode(
            [
                self._event(
                    0,
                    Name="orchestrator",
                    Version="",
                    Input=json.dumps(self.input),
                    OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": "e1"},
                )
            ]
        )

    def step(self) -> bool:
        """Deliver queued events, else one batch of work results, else the earliest timer. False when idle."""
        if self.done:
            return False
        if self.inbox:
            events, self.inbox = self.inbox, []
            self._episode(events)
            return True
        if self.pending:
            return self._run_pending()
        if self.timers:
            timer = min(self.timers, key=lambda w: (w.fire_at, w.id))
            self.timers.remove(timer)
            assert timer.fire_at is not None
            if self.now is not None and self.now < timer.fire_at:
                self.now = timer.fire_at
            fired = self._event(11, TimerId=timer.id, FireAt=ts(timer.fire_at))
            self._episode([fired])
            if timer.retry is not None:  # retry timer fired: the SDK reschedules with a new id
                task = timer.retry["task"]
                if task.attempt < task.retry["maxNumberOfAttempts"]:
                    new_id = self.next_id
                    self.next_id += 1
                    self.history.insert(
                        len(self.history) - 1,
                        self._event(4, new_id, Name=task.name, Version="", Input=json.dumps(task.input)),
                    )
                    self.pending.append(
                        Work(
                            "activity",
                            new_id,
                            task.name,
                            task.input,
                            retry=task.retry,
                            attempt=task.attempt + 1,
                        )
                    )
            return True
        return False

    def _run_pending(self) -> bool:
        work = self.pending.pop(0)
        if work.kind == "activity":
            self.calls.append((work.name, work.input))
            try:
                result = self.activities[work.name](work.input)
            except Exception as exc:
                reason = f"Activity function '{work.name}' failed:  {type(exc).__name__}: {exc}"
                self._episode(
                    [
                        self._event(
                            6,
                            TaskScheduledId=work.id,
                            Reason=reason,
                            Details=json.dumps({"Message": str(exc)}),
                        )
                    ]
                )
                if work.retry is not None and not self.done:
                    timer_id = self.next_id
                    self.next_id += 1
                    interval = work.retry["firstRetryIntervalInMilliseconds"]
                    assert self.now is not None
                    fire_at = self.now + timedelta(milliseconds=interval)
                    self.history.insert(len(self.history) - 1, self._event(10, timer_id, FireAt=ts(fire_at)))
                    self.timers.append(Work("timer", timer_id, fire_at=fire_at, retry={"task": work}))
                return True
            self._episode([self._event(5, TaskScheduledId=work.id, Result=json.dumps(result))])
            return True
        self.calls.append((work.name, work.input))
        result = self.subs[work.name](work.instance_id or "", work.input)
        self._episode([self._event(8, TaskScheduledId=work.id, Result=json.dumps(result))])
        return True

    def run(self, max_steps: int = 500) -> Sim:
        """Begin if needed and step until done or idle."""
        if not self.history:
            self.begin()
        for _ in range(max_steps):
            if not self.step():
                return self
        raise AssertionError("orchestration did not settle")

    def activity_names(self) -> list[str]:
        """Names of the activities and sub-orchestrations run so far, in order."""
        return [name for name, _ in self.calls]
