"""The replay driver: build the orchestration trigger payload, call the SDK's handler, parse its answer.

Pure apart from running user code. Payload shape:
docs/durable-extension-protocol.md#the-orchestration-payload (the extension's legacy JSON protocol,
``OrchestrationTriggerAttributeBindingProvider.OrchestrationContextToString``); result:
docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions (the
OrchestratorState JSON string, or an exception whose text carries it after ``$OutOfProcData$:``, as the
extension's ``OutOfProcExceptionHelpers`` splits it). The SDK replays the whole history on every call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devhost.durable import history as h

# Schema versions sent as the extension 2.x does
# (docs/durable-extension-protocol.md#the-orchestration-payload,
# docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions): the SDK answers with
# schemaVersion 2 (V3).
UPPER_SCHEMA_VERSION = 1
UPPER_SCHEMA_VERSION_NEW = 2
_OOP_LABEL = "$OutOfProcData$:"


@dataclass(frozen=True)
class ReplayResult:
    """The SDK's OrchestratorState dict (``state``) or, when the handler broke the protocol (a plain
    exception, a non-JSON answer), ``error`` text; ``user_error`` is True when user code raised."""

    state: dict[str, Any] | None
    error: str | None = None
    user_error: bool = False


def played_text(event: dict[str, Any]) -> str:
    """JSON text of a persisted event, ``IsPlayed: true`` (what the store keeps, so payloads are joined
    from stored text without re-encoding)."""
    return json.dumps(h.with_played(event, True), separators=(",", ":"))


def build_payload(
    instance_id: str,
    parent_instance_id: str | None,
    played: Sequence[str],
    new_events: Sequence[dict[str, Any]],
    input_value: Any,
) -> str:
    """The orchestration trigger payload as JSON text.

    ``played`` are earlier episodes' events as JSON text (IsPlayed true); ``new_events`` this episode's
    (OrchestratorStarted first), written with IsPlayed false; ``input_value`` is the payload ``input``
    (:func:`payload_input`). Long-timer durations are omitted: SQLite needs no
    timer splitting (docs/durable-extension-protocol.md#timers).
    """
    fresh = [json.dumps(h.with_played(e, False), separators=(",", ":")) for e in new_events]
    head = {
        "input": input_value,
        "instanceId": instance_id,
        "isReplaying": bool(played),
        "parentInstanceId": parent_instance_id,
        "upperSchemaVersion": UPPER_SCHEMA_VERSION,
        "upperSchemaVersionNew": UPPER_SCHEMA_VERSION_NEW,
    }
    return '{"history":[' + ",".join([*played, *fresh]) + "]," + json.dumps(head)[1:]


def execute(handler: Callable[[str], Any], payload: str) -> ReplayResult:
    """Call the orchestrator wrapper positionally with the payload string (the SDK's ``handle`` reads
    ``getattr(x, "body", x)``) and parse what it returns or raises. Never raises for user errors."""
    try:
        answer = handler(payload)
    except Exception as exc:  # user code or protocol failure: becomes history, never a crashed host
        text = str(exc)
        if _OOP_LABEL in text:
            try:
                state = json.loads(text.split(_OOP_LABEL, 1)[1])
                return ReplayResult(state if isinstance(state, dict) else None, None, True)
            except json.JSONDecodeError:
                pass
        return ReplayResult(None, text or type(exc).__name__)
    if not isinstance(answer, str | bytes):
        return ReplayResult(
            None, f"the orchestrator handler returned {type(answer).__name__}, not OrchestratorState JSON "
            "(is it decorated with orchestration_trigger and a generator or plain function, not async?)"
        )
    try:
        state = json.loads(answer)
    except json.JSONDecodeError as exc:
        return ReplayResult(None, f"the orchestrator handler returned invalid JSON: {exc}")
    if not isinstance(state, dict):
        return ReplayResult(None, "the orchestrator handler returned JSON that is not an object")
    return ReplayResult(state)


def payload_input(es_input: str | None) -> Any:
    """The payload's ``input`` for ``ExecutionStarted.Input`` text
    (docs/durable-extension-protocol.md#the-orchestration-payload,
    docs/durable-extension-protocol.md#the-durable-client): what the extension's
    ``GetInputAsJson`` yields (the parsed token) when the SDK's ``get_input`` can read it – a string holding
    JSON (the Python client's double encoding) or an object – else the JSON text itself, so numbers,
    arrays and plain strings posted by curl also arrive intact."""
    if es_input is None:
        return None
    try:
        parsed = json.loads(es_input)
    except json.JSONDecodeError:
        return es_input
    if isinstance(parsed, dict):
        return parsed
    if isinstance(parsed, str):
        try:
            json.loads(parsed)
            return parsed
        except json.JSONDecodeError:
            return es_input
    return es_input
