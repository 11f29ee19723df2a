"""Replay a captured history against today's orchestrator code, episode by episode, the engine's way.

A golden file (written by ``tests/golden/capture.py`` from a real devhost run) holds the orchestrator name,
the instance id and the full DTFx-shaped history of one finished execution. :func:`replay_golden` splits it
into episodes (OrchestratorStarted … OrchestratorCompleted) and runs each one through devhost's own episode
code (:func:`devhost.durable.invocations.run_episode`: :class:`~devhost.durable.runtime_state.RuntimeState`
+ the SDK's real handler), feeding it the episode's recorded messages (ExecutionStarted, results, timers,
events) at the recorded time. What today's code writes (TaskScheduled, SubOrchestrationInstanceCreated,
TimerCreated with their sequence ids, names, instance ids, fire times; retry timers and re-attempts; the
ExecutionCompleted status and result) must equal what the captured run wrote. Determinism thus has one
definition, the engine's; a mismatch here is exactly what would break a running instance after a deploy.
Histories with activity retries replay too: the engine allocates retry timers and re-attempts itself.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from devhost.durable import history as h
from devhost.durable.invocations import run_episode
from devhost.durable.models import InboxMessage, InstanceState
from devhost.durable.runtime_state import RuntimeState
from orchestrations.approval import approval_tier_orchestrator
from orchestrations.case_workflow import case_workflow_orchestrator
from orchestrations.maintenance import case_maintenance_orchestrator

GOLDEN_DIR = Path(__file__).resolve().parent / "histories"
ORCHESTRATORS = {
    "case_workflow": case_workflow_orchestrator,
    "approval_tier": approval_tier_orchestrator,
    "case_maintenance": case_maintenance_orchestrator,
}
# What an episode writes (compared) versus what it consumes (fed back as messages).
WRITTEN = frozenset({*h.SCHEDULE_TYPES, h.EXECUTION_COMPLETED})
FRAME = frozenset({h.ORCHESTRATOR_STARTED, h.ORCHESTRATOR_COMPLETED})


@dataclass
class ReplayReport:
    """What replaying one golden history found: ``mismatches`` (empty when deterministic), the replayed
    ``output`` and the ``recorded`` output."""

    name: str
    mismatches: list[str] = field(default_factory=list)
    output: Any = None
    recorded: Any = None


def episodes(history: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The history cut at each OrchestratorStarted."""
    cut: list[list[dict[str, Any]]] = []
    for event in history:
        if event["EventType"] == h.ORCHESTRATOR_STARTED or not cut:
            cut.append([])
        cut[-1].append(event)
    return cut


def replay_golden(document: dict[str, Any]) -> ReplayReport:
    """Replay one golden document (see the module docstring); stops at the first diverging episode."""
    name, recorded = document["orchestrator"], document["history"]
    report = ReplayReport(name=document.get("scenario", name))
    started = next(e for e in recorded if e["EventType"] == h.EXECUTION_STARTED)
    t0 = h.parse_timestamp(started["Timestamp"])
    instance = InstanceState(document["instance_id"], name, "Pending", started.get("Input"), None, None,
                             t0, t0, started.get("Version") or "",
                             started["OrchestrationInstance"]["ExecutionId"])
    handler = df.Orchestrator.create(ORCHESTRATORS[name])
    ids = (f"golden-{n}" for n in itertools.count())
    stored: list[dict[str, Any]] = []  # what the engine stores for today's code (retry bookkeeping included)
    for number, episode in enumerate(episodes(recorded), 1):
        now = h.parse_timestamp(episode[0]["Timestamp"])
        batch = [InboxMessage(i, e) for i, e in enumerate(episode) if e["EventType"] not in WRITTEN | FRAME]
        state = RuntimeState(instance, stored, new_id=lambda: next(ids))
        try:
            outcome, result = run_episode(state, batch, now, handler)
        except Exception as exc:  # the host's episode code itself broke
            report.mismatches.append(
                f"episode {number}: replay raised {type(exc).__name__}: {str(exc)[:300]}")
            return report
        written = outcome.new_history if outcome.new_history is not None else outcome.append
        problems = compare([e for e in episode if e["EventType"] in WRITTEN],
                           [e for e in written if e["EventType"] in WRITTEN])
        if problems:
            report.mismatches += [f"episode {number}: {p}" for p in problems]
            if outcome.runtime_status == "Failed" and outcome.output:
                failure = json.loads(outcome.output)
                report.mismatches.append(f"episode {number}: today's code fails: {failure}")
            return report
        stored = written if outcome.new_history is not None else stored + written
        instance = replace(instance, runtime_status=outcome.runtime_status)
        if result.state and "output" in result.state:
            report.output = result.state["output"]
    completed = next((e for e in recorded if e["EventType"] == h.EXECUTION_COMPLETED), None)
    report.recorded = json.loads(completed["Result"]) if completed and completed.get("Result") else None
    if completed is not None and report.output != report.recorded:
        report.mismatches.append("output differs from the recorded result")
    return report


def compare(recorded: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> list[str]:
    """Differences between the events an episode wrote in the captured run and today."""
    problems = []
    for old, new in zip(recorded, replayed, strict=False):
        if _key(old) != _key(new):
            problems.append(f"history has {_describe(old)} where today's code writes {_describe(new)}")
    for old in recorded[len(replayed):]:
        problems.append(f"history has {_describe(old)}, today's code writes nothing")
    for new in replayed[len(recorded):]:
        problems.append(f"today's code also writes {_describe(new)}")
    return problems


def _key(e: dict[str, Any]) -> tuple[Any, ...]:
    t = e["EventType"]
    if t == h.EXECUTION_COMPLETED:
        result = e.get("Result")
        return t, e.get("OrchestrationStatus"), json.loads(result) if result else None
    if t == h.TIMER_CREATED:
        return t, e.get("EventId"), str(e.get("FireAt", ""))[:19]
    return t, e.get("EventId"), e.get("Name"), e.get("InstanceId")


def _describe(e: dict[str, Any]) -> str:
    name = h.EVENT_TYPE_NAMES.get(e["EventType"], "?")
    detail = e.get("Name") or e.get("FireAt") or e.get("OrchestrationStatus")
    return f"#{e.get('EventId')} {name} {detail!r}"


def load_goldens() -> list[tuple[str, dict[str, Any]]]:
    """Every committed golden history as ``(file name, document)``, sorted by name."""
    return [(p.name, json.loads(p.read_text())) for p in sorted(GOLDEN_DIR.glob("*.json"))]
