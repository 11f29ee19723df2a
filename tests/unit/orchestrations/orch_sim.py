"""A tiny host for orchestrator tests: the engine's own episode semantics, in-process and deterministic.

Each episode is what devhost's dispatcher runs (:func:`devhost.durable.invocations.run_episode`):
:class:`~devhost.durable.runtime_state.RuntimeState` selects nothing new (the sim hands it the visible
messages), builds the payload, calls the SDK's real ``Orchestrator.create(fn)`` handler and turns the
OrchestratorState into history, work, timers and the non-determinism check; the outcome is committed to a
:class:`~devhost.durable.memory_store.MemoryStore`. So retries, timers, cancellation and determinism have
one definition, the engine's. What the sim adds: activities are plain callables run in-process;
sub-orchestrations are callables returning their JSON result; timers fire when nothing else is pending
(like the virtual clock).

Everything is deterministic: episode timestamps advance one second per episode from ``start``; execution
ids come from a counter.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from devhost.durable import history as h
from devhost.durable.invocations import run_episode
from devhost.durable.memory_store import MemoryStore
from devhost.durable.models import InstanceState
from devhost.durable.runtime_state import RuntimeState
from devhost.durable.store import EpisodeCommit


@dataclass
class Work:
    """A scheduled item waiting to run: ``kind`` activity | sub, its sequence ``id`` and details."""

    kind: str
    id: int
    name: str = ""
    input: Any = None
    instance_id: str | None = None


@dataclass
class Sim:
    """Run ``orchestrator`` (a generator function taking the context) as instance ``instance_id``."""

    orchestrator: Callable[..., Any]
    instance_id: str
    input: Any
    activities: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    subs: dict[str, Callable[[str, Any], Any]] = field(default_factory=dict)
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    now: datetime | None = None
    pending: list[Work] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    episodes: int = 0
    #: The instance's orchestration version (``ExecutionStarted.Version``; ``""``: started unversioned).
    version: str = ""

    def __post_init__(self) -> None:
        self.handler = df.Orchestrator.create(self.orchestrator)
        self.now = self.start
        self.store = MemoryStore()
        self._ids = (f"e{n}" for n in itertools.count(1))

    # -- what tests read ------------------------------------------------------------------------------
    @property
    def instance(self) -> InstanceState | None:
        """The instance row (None before :meth:`begin`)."""
        return self.store.get_instance(self.instance_id)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The persisted history of the current execution, as the engine stores it."""
        return self.store.get_history(self.instance_id)

    @property
    def inbox(self) -> list[dict[str, Any]]:
        """Events queued for the instance and visible to its next episode (raised events, due timers)."""
        assert self.now is not None
        found = self.store.load_episodes([self.instance_id], self.now + timedelta(seconds=1))
        return [m.event for m in found[0].messages] if found else []

    @property
    def done(self) -> bool:
        """True once the orchestrator returned or failed."""
        instance = self.instance
        return (instance is not None and instance.is_terminal) or "error" in self.state

    @property
    def output(self) -> Any:
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")

    def activity_names(self) -> list[str]:
        """Names of the activities and sub-orchestrations run so far, in order."""
        return [name for name, _ in self.calls]

    # -- driving --------------------------------------------------------------------------------------
    def raise_event(self, name: str, data: Any) -> None:
        """Queue an EventRaised for the next episode (Input = JSON text of ``data``)."""
        self.raise_event_text(name, json.dumps(data))

    def raise_event_text(self, name: str, input_text: str | None) -> None:
        """Queue an EventRaised whose Input is ``input_text`` as given (e.g. a client's double encoding)."""
        assert self.now is not None
        self.store.enqueue(self.instance_id, h.event_raised(self.now, name, input_text))

    def begin(self) -> None:
        """Create the instance and run the first episode (ExecutionStarted)."""
        assert self.now is not None
        execution = next(self._ids)
        text = json.dumps(self.input)
        state = InstanceState(self.instance_id, "orchestrator", "Pending", text, None, None, self.now,
                              self.now, self.version, execution)
        self.store.create_instance(
            state, h.execution_started(self.now, "orchestrator", self.instance_id, execution, text,
                                       self.version))
        self._episode()

    def step(self) -> bool:
        """Deliver visible messages, else run the next work item (and the episode its result starts),
        else fire the earliest timer. False when done or idle."""
        if self.done:
            return False
        if self._visible():
            return self._episode()
        if self.pending:
            self._run(self.pending.pop(0))
            return self._episode()
        assert self.now is not None
        due = self.store.next_visible_at(self.now)
        if due is None:
            return False
        self.now = due
        return self._episode()

    def run(self, max_steps: int = 500) -> Sim:
        """Begin if needed and step until done or idle."""
        if self.instance is None:
            self.begin()
        for _ in range(max_steps):
            if not self.step():
                return self
        raise AssertionError("orchestration did not settle")

    # -- one episode, the engine's way ----------------------------------------------------------------
    def _visible(self) -> bool:
        assert self.now is not None
        return self.instance_id in self.store.ready_instances(self.now + timedelta(seconds=1), 1000, set())

    def _episode(self) -> bool:
        assert self.now is not None
        self.now = self.now + timedelta(seconds=1)
        (loaded,) = self.store.load_episodes([self.instance_id], self.now)
        state = RuntimeState(loaded.instance, loaded.history, new_id=lambda: next(self._ids))
        batch = state.select_batch(loaded.messages)
        if not batch:
            return False
        self.episodes += 1
        outcome, result = run_episode(state, batch, self.now, self.handler,
                                      history_texts=loaded.history_texts)
        if result.state is not None:
            self.state = result.state
        elif result.error is not None:
            self.state = {"error": result.error}
        commit = EpisodeCommit(self.instance_id, loaded.instance.execution_id, len(loaded.history), outcome,
                               [m.id for m in batch])
        self.store.commit_episodes([commit], self.now)
        self.pending += [Work("activity", a.task_id, a.name, _load(a.input)) for a in outcome.activities]
        self.pending += [Work("sub", c.task_id, c.name, _load(c.input), instance_id=c.instance_id)
                         for c in outcome.child_starts]
        return True

    def _run(self, work: Work) -> None:
        assert self.now is not None
        self.calls.append((work.name, work.input))
        if work.kind == "sub":
            result = self.subs[work.name](work.instance_id or "", work.input)
            self._deliver(h.sub_orchestration_completed(self.now, work.id, json.dumps(result)))
            return
        try:
            result = self.activities[work.name](work.input)
        except Exception as exc:
            reason = f"Activity function '{work.name}' failed:  {type(exc).__name__}: {exc}"
            self._deliver(h.task_failed(self.now, work.id, reason, json.dumps({"Message": str(exc)})))
            return
        self._deliver(h.task_completed(self.now, work.id, json.dumps(result)))

    def _deliver(self, event: dict[str, Any]) -> None:
        self.store.enqueue(self.instance_id, event)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
