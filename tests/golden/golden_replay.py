"""Replay a captured history against today's orchestrator code and report non-deterministic edits.

A golden file (written by ``tests/golden/capture.py`` from a real devhost run) holds the orchestrator name,
the instance id and the full DTFx-shaped history of one finished execution. :func:`replay_golden` hands that
history to the SDK's real handler (every event played,
docs/durable-extension-protocol.md#the-orchestration-payload,
docs/durable-extension-protocol.md#history-events) and compares:

- each scheduled action of today's code with the recorded schedule event of the same sequence id
  (TaskScheduled name, SubOrchestrationInstanceCreated name and instance id, TimerCreated fire time);
  the SDK itself never checks this (docs/durable-extension-protocol.md#replay), the .NET shim does, so a
  mismatch here is exactly what would
  break a running instance after a deploy;
- the output with the recorded ExecutionCompleted result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from orchestrations.approval import approval_tier_orchestrator
from orchestrations.case_workflow import case_workflow_orchestrator
from orchestrations.maintenance import case_maintenance_orchestrator

GOLDEN_DIR = Path(__file__).resolve().parent / "histories"
ORCHESTRATORS = {
    "case_workflow": case_workflow_orchestrator,
    "approval_tier": approval_tier_orchestrator,
    "case_maintenance": case_maintenance_orchestrator,
}
_SCHEDULE = {4: "TaskScheduled", 7: "SubOrchestrationInstanceCreated", 10: "TimerCreated"}


@dataclass
class ReplayReport:
    """What replaying one golden history found: ``mismatches`` (empty when deterministic), the replayed
    ``output`` and the ``recorded`` output."""

    name: str
    mismatches: list[str] = field(default_factory=list)
    output: Any = None
    recorded: Any = None


def _leaves(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a in actions:
        if a.get("actionType") in (11, 12):
            out.extend(_leaves(a.get("compoundActions", [])))
        elif a.get("actionType") != 6:  # waits take no sequence id
            out.append(a)
    return out


def _payload_input(history: list[dict[str, Any]]) -> Any:
    started = next(e for e in history if e["EventType"] == 0)
    raw = started.get("Input")
    return None if raw is None else json.loads(raw)


def replay_golden(document: dict[str, Any]) -> ReplayReport:
    """Replay one golden document (see the module docstring)."""
    name = document["orchestrator"]
    history = document["history"]
    handler = df.Orchestrator.create(ORCHESTRATORS[name])
    payload = {
        "history": [{**e, "IsPlayed": True} for e in history],
        "input": _payload_input(history),
        "instanceId": document["instance_id"],
        "isReplaying": True,
        "parentInstanceId": document.get("parent_instance_id"),
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }
    report = ReplayReport(name=document.get("scenario", name))
    try:
        state = json.loads(handler(json.dumps(payload)))
    except Exception as exc:  # user code raised while replaying: a non-deterministic edit too
        report.mismatches.append(f"replay raised: {str(exc)[:300]}")
        return report
    scheduled = sorted((e for e in history if e["EventType"] in _SCHEDULE), key=lambda e: e["EventId"])
    leaves = _leaves(state.get("actions", [[]])[0] if state.get("actions") else [])
    for index, event in enumerate(scheduled):
        if index >= len(leaves):
            report.mismatches.append(
                f"#{event['EventId']}: history has {_SCHEDULE[event['EventType']]} "
                f"{event.get('Name', event.get('FireAt'))}, today's code schedules nothing"
            )
            continue
        leaf = leaves[index]
        problem = _compare(event, leaf)
        if problem:
            report.mismatches.append(f"#{event['EventId']}: {problem}")
    if len(leaves) > len(scheduled):
        extra = [leaf.get("functionName") or leaf.get("fireAt") for leaf in leaves[len(scheduled) :]]
        report.mismatches.append(f"today's code schedules more than the history: {extra}")
    completed = next((e for e in history if e["EventType"] == 1), None)
    report.output = state.get("output")
    report.recorded = json.loads(completed["Result"]) if completed and completed.get("Result") else None
    if completed is not None and report.output != report.recorded:
        report.mismatches.append("output differs from the recorded result")
    return report


def _compare(event: dict[str, Any], leaf: dict[str, Any]) -> str | None:
    kind = event["EventType"]
    action = leaf.get("actionType")
    if kind == 4:
        if action not in (0, 1) or leaf.get("functionName") != event.get("Name"):
            return f"history ran activity {event.get('Name')}, today's code schedules {_describe(leaf)}"
    elif kind == 7:
        if action not in (2, 3) or leaf.get("functionName") != event.get("Name"):
            return (
                f"history ran sub-orchestration {event.get('Name')}, today's code schedules {_describe(leaf)}"
            )
        if leaf.get("instanceId") and leaf["instanceId"] != event.get("InstanceId"):
            return f"sub-orchestration instance {event.get('InstanceId')} became {leaf['instanceId']}"
    elif kind == 10:
        if action != 5:
            return f"history created a timer, today's code schedules {_describe(leaf)}"
        if leaf.get("fireAt", "")[:19] != str(event.get("FireAt", ""))[:19]:
            return f"timer fires at {leaf.get('fireAt')} instead of {event.get('FireAt')}"
    return None


def _describe(leaf: dict[str, Any]) -> str:
    return str(leaf.get("functionName") or ("timer " + str(leaf.get("fireAt"))))


def load_goldens() -> list[tuple[str, dict[str, Any]]]:
    """Every committed golden history as ``(file name, document)``, sorted by name."""
    return [(p.name, json.loads(p.read_text())) for p in sorted(GOLDEN_DIR.glob("*.json"))]
