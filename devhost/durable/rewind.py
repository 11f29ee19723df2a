"""Rewind of a failed orchestration, pure: which history events to drop and which work to redo.

DTFx ``RewindAsync`` / the extension's ``RewindAsync`` (``POST /instances/{id}/rewind``): the failure is
removed from history – the ExecutionCompleted, the last failed attempts' TaskFailed /
SubOrchestrationInstanceFailed (a retried task's earlier failed attempts stay) and, for a retry chain that
was exhausted, its extra retry timer – so the failed activities run again under their original sequence
numbers and failed sub-orchestrations are rewound in turn. Completed tasks are not re-run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devhost.durable import history as h
from devhost.durable.outcome import ActivityTask, EpisodeOutcome, Outbound

Event = dict[str, Any]


def rewind_history(
    history: list[Event],
    now: datetime,
    attempt_ids: set[int],
    current_attempts: set[int],
    retry_timers: dict[int, int],
) -> tuple[list[Event], EpisodeOutcome]:
    """Returns (rewritten history, work to queue: activities to run again and rewind messages to failed
    children). ``attempt_ids`` are the sequence numbers of retried attempts, ``current_attempts`` each
    retry chain's latest attempt, ``retry_timers`` attempt id → its chain's latest retry timer id."""
    completed = {int(e["TaskScheduledId"]) for e in history
                 if e.get("EventType") in (h.TASK_COMPLETED, h.SUB_ORCHESTRATION_COMPLETED)}
    failed = {int(e["TaskScheduledId"]) for e in history
              if e.get("EventType") in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED)}
    final = {tid for tid in failed
             if tid not in completed and (tid not in attempt_ids or tid in current_attempts)}
    exhausted = {retry_timers[tid] for tid in final if retry_timers.get(tid, -1) > tid}
    rewritten: list[Event] = []
    for e in history:
        t = e.get("EventType")
        if t == h.EXECUTION_COMPLETED:
            continue
        if t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED) and int(e["TaskScheduledId"]) in final:
            continue
        if t == h.TIMER_CREATED and int(e["EventId"]) in exhausted:
            continue
        if t == h.TIMER_FIRED and int(e.get("TimerId", -1)) in exhausted:
            continue
        rewritten.append(e)
    work = EpisodeOutcome("Running")
    by_id = {int(e["EventId"]): e for e in history if e.get("EventType") in h.SCHEDULE_TYPES}
    for tid in sorted(final):
        sched = by_id.get(tid)
        if sched is None:
            continue
        if sched["EventType"] == h.TASK_SCHEDULED:
            work.activities.append(ActivityTask(tid, str(sched["Name"]), sched.get("Input")))
        elif sched["EventType"] == h.SUB_ORCHESTRATION_CREATED:
            work.messages.append(Outbound(str(sched["InstanceId"]), h.execution_rewound(now, "rewind")))
    return rewritten, work
