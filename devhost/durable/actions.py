"""The SDK's orchestrator action vocabulary: action types, flattening, and matching actions to history.

The orchestrator's OrchestratorState carries ``actions`` (V1 lists of lists or V2 ``[[…]]``) whose leaves
are the SDK's action JSON (``azure/durable_functions/models/actions/*.py``,
docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions).
:func:`matches` is the one non-determinism rule: a replayed action must correspond to the history event
scheduled for it (used by :mod:`devhost.durable.runtime_state`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from devhost.durable import history as h

Event = dict[str, Any]

# actionType values (SDK models/actions/ActionType.py)
CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY, CONTINUE_AS_NEW = 0, 1, 2, 3, 4
CREATE_TIMER, WAIT_EVENT, CALL_ENTITY, CALL_HTTP, SIGNAL_ENTITY, SCHEDULED_SIGNAL = 5, 6, 7, 8, 9, 10
WHEN_ANY, WHEN_ALL = 11, 12
HTTP_ACTIVITY = "BuiltIn::HttpActivity"


def flatten_actions(actions: Any) -> Iterator[dict[str, Any]]:
    """Depth-first leaves of the returned ``actions`` (V1 lists of lists or V2 ``[[…]]``), compounds
    (WhenAny/WhenAll) unwrapped
    (docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions)."""
    if isinstance(actions, list):
        for a in actions:
            yield from flatten_actions(a)
    elif isinstance(actions, dict):
        if actions.get("actionType") in (WHEN_ANY, WHEN_ALL):
            yield from flatten_actions(actions.get("compoundActions") or [])
        else:
            yield actions


def matches(action: dict[str, Any], event: Event) -> bool:
    """Whether a replayed ``action`` (SDK action dict) corresponds to the history ``event`` scheduled for it
    (same kind and name); a mismatch is a non-deterministic orchestrator."""
    t, et = action.get("actionType"), event.get("EventType")
    if t in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY):
        return et == h.TASK_SCHEDULED and event.get("Name") == action.get("functionName")
    if t == CALL_HTTP:
        return et == h.TASK_SCHEDULED and event.get("Name") == HTTP_ACTIVITY
    if t in (CALL_SUB, CALL_SUB_RETRY):
        return et == h.SUB_ORCHESTRATION_CREATED and event.get("Name") == action.get("functionName")
    if t == CREATE_TIMER:
        return et == h.TIMER_CREATED
    if t in (CALL_ENTITY, SIGNAL_ENTITY):
        return et == h.EVENT_SENT and event.get("InstanceId") == action.get("instanceId")
    return False


def describe_action(action: dict[str, Any]) -> str:
    """A short human name of an SDK action (e.g. ``activity 'Hello'``) for non-determinism errors."""
    t = action.get("actionType")
    if t in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY):
        return f"activity '{action.get('functionName')}'"
    if t in (CALL_SUB, CALL_SUB_RETRY):
        return f"sub-orchestration '{action.get('functionName')}'"
    if t == CREATE_TIMER:
        return "a timer"
    if t in (CALL_ENTITY, SIGNAL_ENTITY):
        return f"entity operation '{action.get('operation')}' on {action.get('instanceId')}"
    return f"action type {t}"
