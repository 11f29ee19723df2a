"""A tiny in-memory task hub for replay-level tests: RuntimeState + the real SDK replay, no SQLite.

Activities are plain callables run synchronously; timers fire when nothing else is queued (time jumps to
their fireAt). Completions of one round are delivered in the order ``order`` gives (e.g. reversed) to
exercise batching.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from devhost.durable import history as h
from devhost.durable.models import InboxMessage, InstanceState
from devhost.durable.replay import build_payload, execute, payload_input, played_text
from devhost.durable.runtime_state import RuntimeState

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Driver:
    """Runs one orchestrator function (a generator taking the context) to completion."""

    def __init__(self, orchestrator: Callable[..., Any], activities: dict[str, Callable[[Any], Any]],
                 order: Callable[[list[Any]], list[Any]] = list) -> None:
        self.handler = df.Orchestrator.create(orchestrator)
        self.activities = activities
        self.order = order
        self.now = T0
        self.history: list[dict[str, Any]] = []
        self.inbox: list[InboxMessage] = []
        self.timers: list[tuple[datetime, dict[str, Any]]] = []
        self.status = "Pending"
        self.output: str | None = None
        self.episodes = 0
        self._ids = itertools.count(1)

    def _post(self, event: dict[str, Any]) -> None:
        self.inbox.append(InboxMessage(next(self._ids), event))

    def raise_event(self, name: str, value: Any) -> None:
        self._post(h.event_raised(self.now, name, json.dumps(value)))

    def run(self, input_value: Any = None, max_episodes: int = 200) -> Any:
        """Start and run until terminal; returns the parsed output."""
        text = None if input_value is None else json.dumps(input_value)
        es = h.execution_started(T0, "orch", "iid", "e1", text)
        self._post(es)
        while self.status not in ("Completed", "Failed", "Terminated"):
            if not self.inbox:
                if not self.timers:
                    raise AssertionError(f"stuck in {self.status}; history {self.history}")
                self.timers.sort(key=lambda t: t[0])
                fire_at, event = self.timers.pop(0)
                self.now = max(self.now, fire_at)
                self._post(event)
            self.episode()
            assert self.episodes < max_episodes
        return json.loads(self.output) if self.output else None

    def episode(self) -> None:
        self.episodes += 1
        self.now += timedelta(milliseconds=1)
        inst = InstanceState("iid", "orch", self.status, None, None, None, T0, T0, "", "e1")
        rs = RuntimeState(inst, self.history)
        batch = rs.select_batch(self.inbox)
        ep = rs.begin(batch, self.now)
        state, error = None, None
        if ep.needs_user_code:
            payload = build_payload("iid", None, [played_text(e) for e in self.history], ep.new_events,
                                    payload_input((rs.started or {}).get("Input")))
            result = execute(self.handler, payload)
            state, error = result.state, result.error
        out = rs.finish(ep, state, error)
        consumed = {m.id for m in batch}
        self.inbox = [m for m in self.inbox if m.id not in consumed]
        self.history += out.append
        self.status = out.runtime_status
        self.output = out.output
        cancelled = set(out.cancel_timers)
        self.timers = [t for t in self.timers if t[1]["TimerId"] not in cancelled]
        self.timers += [(t.fire_at, t.event) for t in out.timers]
        results = []
        for task in out.activities:
            try:
                value = self.activities[task.name](json.loads(task.input) if task.input else None)
                results.append(h.task_completed(self.now, task.task_id, json.dumps(value)))
            except Exception as exc:
                results.append(h.task_failed(self.now, task.task_id,
                                             f"Activity function '{task.name}' failed:  {exc}", "{}"))
        for event in self.order(results):
            self._post(event)
