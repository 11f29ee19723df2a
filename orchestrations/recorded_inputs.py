"""Activity inputs as the history recorded them: a replayed step schedules the same JSON, not rebuilt.

Every episode replays the orchestrator from the start, and every activity it scheduled in earlier episodes is
scheduled again: the SDK serializes each input once more (``CallActivityAction``: ``df_dumps``) and re-sends
every action, although completions are matched to tasks by sequence id only and replayed inputs are never
compared (docs/durable-extension-protocol.md#replay and #the-answer-orchestratorstate-and-actions).
Rebuilding the case's typed inputs for that (pydantic models, ``model_dump``, the riding audit records'
``brief_for``, the trace context) was about a third of the case orchestrator's own replay CPU, and replay the
largest single share of a case's CPU (issue 15, bench/README.md "CPU per case (cpu15)").

:class:`RecordedInputs` hands the orchestrator, for the n-th scheduling of activity ``name`` in this run, the
input its ``TaskScheduled`` event recorded (``context.histories``, the SDK's public view of the history in
the orchestration payload), decoded from its JSON text. Serialized by the SDK again (``json.dumps``, the
encoding that wrote it) it gives the very same text, so the episode's actions are byte for byte the ones a
rebuild would send (tests/unit/orchestrations/test_recorded_inputs.py compares them for every golden
history), and the orchestrator skips building the input. An activity the history does not hold yet (this
episode's new work) is built as before. Deterministic: it reads only the history the episode replays.
The builders it skips must therefore have no effect on the run (``RunState.activity``): what an attempt
changes (e.g. the judgment charge of a retry, ``JudgmentTally.step_input``) happens before, every time.
"""

from __future__ import annotations

import functools
import json
from typing import Any

#: ``HistoryEventType.TASK_SCHEDULED`` (azure/durable_functions/models/history/HistoryEventType.py).
TASK_SCHEDULED = 4


class RecordedInputs:
    """The recorded inputs of one execution's ``TaskScheduled`` events, per activity name in history order.

    ``context`` is the ``DurableOrchestrationContext`` (its ``histories``: ``HistoryEvent`` objects with
    ``event_type``, ``Name`` and ``Input``, the input's JSON text). Read lazily on the first :meth:`next`.
    """

    def __init__(self, context: Any) -> None:
        self._context = context
        self._by_name: dict[str, list[Any]] | None = None
        self._taken: dict[str, int] = {}

    def _index(self) -> dict[str, list[Any]]:
        by_name: dict[str, list[Any]] = {}
        for event in getattr(self._context, "histories", None) or ():
            if getattr(event, "event_type", None) == TASK_SCHEDULED and isinstance(event.Name, str):
                by_name.setdefault(event.Name, []).append(event.Input)
        return by_name

    def next(self, name: str) -> Any | None:
        """The input recorded for this run's next scheduling of activity ``name`` (the JSON value; a dict),
        or None when the history holds no such scheduling yet or its input is not a JSON object's text.
        Call it once per scheduling of ``name``, in the order the orchestrator schedules."""
        if self._by_name is None:
            self._by_name = self._index()
        taken = self._taken.get(name, 0)
        self._taken[name] = taken + 1
        recorded = self._by_name.get(name, ())
        return decode(recorded[taken]) if taken < len(recorded) else None


def decode(text: Any) -> dict[str, Any] | None:
    """The JSON object an input's recorded text holds (text encoded once, or JSON text of that text, as a
    host may store a worker's input string), or None for anything else. Decoded once per process and text
    (:func:`_decoded`: every later episode of the case replays the same inputs); the SDK only reads it."""
    return _decoded(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=1024)
def _decoded(text: str) -> dict[str, Any] | None:
    value: Any = text
    for _ in range(2):
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
