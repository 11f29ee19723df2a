"""Durable entities: entity ids, the operation messages, and one entity batch (the SDK's entity handler over
the entity's queued operations) turned into what the store commits.

Mirrors the Durable Functions extension 2.x (Azure/azure-functions-durable-extension): an entity is an
instance whose id is ``@name@key`` (``EntityId.cs``: the name lower-cased), created by the first message
sent to it; its state lives in the instance's ``input`` (the extension persists it through continue-as-new
of the scheduler's ``SchedulerState``). Operations arrive as EventRaised ``op`` messages whose ``Input`` is
a RequestMessage (``EntityScheduler/RequestMessage.cs``); callers get an EventRaised named after the request
id whose ``Input`` is a ResponseMessage (``ResponseMessage.cs``). The batch payload and its answer are the
legacy out-of-proc JSON of ``EntityTriggerAttributeBindingProvider.EntityContextToString`` and
``TaskEntityShim.OutOfProcResult``, read by the SDK's ``Entity.create`` handler
(azure/durable_functions/entity.py, models/DurableEntityContext.py). Wire details:
docs/durable-extension-protocol.md#entities.

Operations on one entity run one batch at a time in arrival order: the dispatcher never runs two episodes
of one instance at once and a batch consumes its messages oldest first; state, responses and signals
commit in one transaction with the consumed messages (:meth:`TaskHubStore.commit_episodes`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devhost import limits
from devhost.durable import history as h
from devhost.durable.models import EpisodeInput, InboxMessage, InstanceState
from devhost.durable.outcome import EpisodeOutcome, Outbound
from devhost.durable.store import EpisodeCommit
from devhost.functions.interfaces import FunctionInfo
from devhost.logs import function_logger

Event = dict[str, Any]
OPERATION = "op"  # EventRaised name of an entity operation (the extension's EntityMessageEventNames)
MAX_BATCH = 100  # operations per batch (the extension's default maxEntityOperationBatchSize off Consumption)


# -- ids ---------------------------------------------------------------------------------------------------
def scheduler_id(name: str, key: str) -> str:
    """``@name@key`` with the name lower-cased (EXT ``EntityId.GetSchedulerId``; SDK
    ``EntityId.get_scheduler_id``). Raises ValueError for an empty name."""
    if not name:
        raise ValueError("Invalid entity id: entity name must not be a null or empty string.")
    return f"@{name.lower()}@{key}"


def is_entity_id(instance_id: str) -> bool:
    """Whether ``instance_id`` is an entity's ``@name@key``."""
    return instance_id.startswith("@") and instance_id.find("@", 1) > 1


def parse_entity_id(instance_id: str) -> tuple[str, str]:
    """``@name@key`` → (name, key) (EXT ``EntityId.FromString``). Raises ValueError for other ids."""
    if not is_entity_id(instance_id):
        raise ValueError(f"Instance ID '{instance_id}' is not a valid entity ID.")
    pos = instance_id.index("@", 1)
    return instance_id[1:pos], instance_id[pos + 1:]


# -- messages ----------------------------------------------------------------------------------------------
def request_message(operation: str, input_text: str | None, *, signal: bool, parent: str | None,
                    request_id: str | None = None) -> str:
    """RequestMessage JSON: ``{"op", "signal"?, "input"?, "id", "parent"?}`` (EXT RequestMessage.cs: false,
    null and absent values are left out). ``input_text`` is the operation input as the extension stores it
    (JSON text; for Python callers a JSON string holding the SDK's own JSON, see :func:`client_input`)."""
    msg: dict[str, Any] = {"op": operation}
    if signal:
        msg["signal"] = True
    if input_text is not None:
        msg["input"] = input_text
    msg["id"] = request_id or str(uuid.uuid4())
    if parent:
        msg["parent"] = parent
    return json.dumps(msg, separators=(",", ":"))


def client_input(body: bytes, content_type: str | None) -> str | None:
    """The operation input of ``POST …/entities/{name}/{key}`` (EXT ``HttpApiHandler.
    HandlePostEntityOperationRequestAsync``): no body → None; ``application/json`` → the body's JSON,
    compact (the SDK's ``client.signal_entity`` posts ``json.dumps(input)`` as JSON, so this is a JSON
    string holding the input's JSON, what ``get_input`` decodes twice); any other content type → the text
    as a JSON string. Raises ValueError for an ``application/json`` body that is not JSON."""
    if not body:
        return None
    text = body.decode("utf-8-sig")
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            return json.dumps(limits.loads(text), separators=(",", ":"))
        except ValueError as exc:
            raise ValueError(f"Could not parse JSON content: {exc}") from exc
    return json.dumps(text)


def orchestration_request(now: datetime, event_id: int, action: dict[str, Any], parent: str,
                          *, signal: bool) -> tuple[Event, Outbound]:
    """An orchestrator's CallEntity / SignalEntity action (SDK ``CallEntityAction`` /
    ``SignalEntityAction``: ``instanceId`` ``@name@key``, ``operation``, ``input`` = the SDK's JSON text)
    → its history event EventSent (``EventId`` = ``event_id``, ``Input`` the RequestMessage, whose ``id``
    the SDK maps the call's task to) and the message to the entity. The input is JSON-encoded once more,
    as the extension's ``RequestMessage.SetInput`` does with the string it receives. Raises ValueError for
    an action without a valid entity id."""
    target = str(action.get("instanceId") or "")
    name, _key = parse_entity_id(target)
    raw = action.get("input")
    msg = request_message(str(action.get("operation") or ""), None if raw is None else json.dumps(raw),
                          signal=signal, parent=parent)
    return (h.event_sent(now, event_id, target, OPERATION, msg),
            Outbound(target, h.event_raised(now, OPERATION, msg), entity=name))


def response_event(now: datetime, request_id: str, result: str | None, is_error: bool) -> Event:
    """EventRaised ``request_id`` carrying the ResponseMessage ``{"result", "exceptionType"?}`` (the SDK's
    ``ResponseMessage.from_dict`` treats the presence of ``exceptionType`` as a failed operation)."""
    response: dict[str, Any] = {"result": result}
    if is_error:
        response["exceptionType"] = "Error"
    return h.event_raised(now, request_id, json.dumps(response, separators=(",", ":")))


# -- state -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntityRecord:
    """One entity as clients see it: ``state`` is JSON text (None when it has none), ``exists`` False after
    ``destruct_on_exit`` or before its first state; ``last_operation_time`` UTC."""

    name: str
    key: str
    exists: bool
    state: str | None
    last_operation_time: datetime


def scheduler_state(instance_input: str | None) -> tuple[bool, str | None]:
    """(exists, state JSON text) from an entity instance's ``input`` ``{"exists", "state"}`` (devhost's
    subset of the extension's SchedulerState); an instance without input has no state."""
    if not instance_input:
        return False, None
    try:
        stored = json.loads(instance_input)
        return bool(stored.get("exists")), stored.get("state")
    except (ValueError, AttributeError):
        return False, None


def entity_record(state: InstanceState) -> EntityRecord:
    """The :class:`EntityRecord` of an entity instance (raises ValueError for another instance)."""
    name, key = parse_entity_id(state.instance_id)
    exists, text = scheduler_state(state.input)
    return EntityRecord(name, key, exists, text if exists else None, state.last_updated_time)


def unknown_entity_message(name: str, known: Sequence[str]) -> str:
    """The extension's ``GetInvalidEntityFunctionMessage`` wording."""
    names = "', '".join(known)
    info = (f"The following are the known entity functions: '{names}'." if known
            else "No entity functions are currently registered!")
    return (f"The function '{name}' doesn't exist, is disabled, or is not an entity function. "
            f"Additional info: {info}")


# -- one batch ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Operation:
    id: str
    name: str
    input: str | None
    signal: bool
    parent: str | None


def _operation(message: InboxMessage) -> _Operation | None:
    """The operation a message carries, or None for any other message (terminate, raised events …)."""
    event = message.event
    if event.get("EventType") != h.EVENT_RAISED or event.get("Name") != OPERATION:
        return None
    try:
        req = json.loads(str(event.get("Input")))
        return _Operation(str(req["id"]), str(req.get("op") or ""), req.get("input"), bool(req.get("signal")),
                          req.get("parent"))
    except (ValueError, KeyError, TypeError):
        return None


class EntityRunner:
    """Runs entity batches for the dispatcher: ``plan`` one loaded entity instance into its commit.

    ``functions`` are the app's functions (entity functions are found by their ``entityName`` or function
    name, case-insensitively, as the extension registers them). :meth:`plan` calls the handler between
    Executing/Executed log lines and touches no store, so the dispatcher runs it on a worker thread.
    """

    def __init__(self, functions: Sequence[FunctionInfo], log: logging.Logger) -> None:
        self.log = log
        self.functions: dict[str, FunctionInfo] = {}
        for fn in functions:
            if fn.trigger_type == "entityTrigger":
                self.functions[str(fn.trigger.get("entityName") or fn.name).lower()] = fn

    @property
    def names(self) -> set[str]:
        """The entity names the app serves (lower-case)."""
        return set(self.functions)

    def plan(self, loaded: EpisodeInput, now: datetime) -> EpisodeCommit | None:
        """The commit of one batch: up to :data:`MAX_BATCH` operations in arrival order run through the
        entity function; other messages are consumed and ignored. None when nothing is queued."""
        if not loaded.messages:
            return None
        consumed: list[int] = []
        ops: list[_Operation] = []
        for m in loaded.messages:
            op = _operation(m)
            if op is None:
                self.log.warning("Entity %s: ignoring a %s message (entities only take operations)",
                                 loaded.instance.instance_id, h.describe_event(m.event))
            elif len(ops) >= MAX_BATCH:
                break
            else:
                ops.append(op)
            consumed.append(m.id)
        outcome = (self._run(loaded.instance, ops, now) if ops
                   else EpisodeOutcome("Running", state_changed=False))
        return EpisodeCommit(loaded.instance.instance_id, loaded.instance.execution_id, 0, outcome, consumed)

    def host_failure(self, loaded: EpisodeInput, now: datetime, error: str) -> EpisodeCommit:
        """The batch failed inside the host: every operation fails with ``error``, the state is kept."""
        ops = [op for op in map(_operation, loaded.messages[:MAX_BATCH]) if op is not None]
        exists, state = scheduler_state(loaded.instance.input)
        outcome = self._outcome(ops, now, exists, state, [_error(error)] * len(ops), [])
        return EpisodeCommit(loaded.instance.instance_id, loaded.instance.execution_id, 0, outcome,
                             [m.id for m in loaded.messages[:MAX_BATCH]])

    def _run(self, instance: InstanceState, ops: list[_Operation], now: datetime) -> EpisodeOutcome:
        name, key = parse_entity_id(instance.instance_id)
        exists, state = scheduler_state(instance.input)
        fn = self.functions.get(name.lower())
        if fn is None:
            error = unknown_entity_message(name, sorted(self.functions))
            return self._outcome(ops, now, exists, state, [_error(error)] * len(ops), [])
        payload = json.dumps({
            "self": {"name": name, "key": key}, "exists": exists, "state": state,
            "batch": [{"name": o.name, "input": o.input, "isSignal": o.signal, "id": o.id} for o in ops],
        })
        try:
            answer = self._call(fn, instance.instance_id, payload)
            results = answer["results"]
            if not isinstance(results, list) or len(results) != len(ops):
                raise ValueError(f"{len(ops)} operation(s) sent, results for {len(results)} returned")
            new_exists, new_state = bool(answer.get("entityExists")), answer.get("entityState")
            signals = list(answer.get("signals") or [])
        except Exception as exc:  # the handler broke the protocol: every operation fails, state kept
            error = f"Entity function '{fn.name}' failed: {type(exc).__name__}: {exc}"
            self.log.error("Entity %s: %s", instance.instance_id, error)
            return self._outcome(ops, now, exists, state, [_error(error)] * len(ops), [])
        for op, r in zip(ops, results, strict=True):
            if r.get("isError"):
                self.log.warning("Entity %s: operation '%s' failed: %s", instance.instance_id, op.name,
                                 r.get("result"))
        return self._outcome(ops, now, new_exists, new_state if new_exists else None, results, signals,
                             instance.instance_id)

    def _call(self, fn: FunctionInfo, instance_id: str, payload: str) -> dict[str, Any]:
        """Call the SDK's entity handler with the payload; its answer (``OutOfProcResult``) as a dict."""
        log = function_logger(fn.name)
        inv_id, started = str(uuid.uuid4()), time.monotonic()
        log.info("Executing 'Functions.%s' (Reason='(null)', Id=%s) for entity %s", fn.name, inv_id,
                 instance_id)
        status = "Failed"
        try:
            answer = fn.handler(payload)
            parsed = json.loads(answer)
            if not isinstance(parsed, dict):
                raise ValueError("the entity handler's answer is not a JSON object")
            status = "Succeeded"
            return parsed
        finally:
            log.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", fn.name, status, inv_id,
                     (time.monotonic() - started) * 1000)

    def _outcome(self, ops: list[_Operation], now: datetime, exists: bool, state: str | None,
                 results: list[dict[str, Any]], signals: list[Any], source: str | None = None,
                 ) -> EpisodeOutcome:
        """State, responses to callers and outgoing signals of a batch (one commit)."""
        out = EpisodeOutcome("Running")
        out.input, out.input_set = json.dumps({"exists": exists, "state": state}), True
        out.custom_status, out.custom_status_set = json.dumps({"entityExists": exists, "queueSize": 0}), True
        for op, r in zip(ops, results, strict=True):
            if not op.signal and op.parent:
                out.messages.append(Outbound(op.parent, response_event(now, op.id, r.get("result"),
                                                                       bool(r.get("isError")))))
        for sig in signals:  # the Python SDK sends none today; the extension's shape is honoured
            try:
                target = scheduler_id(str(sig["target"]["name"]), str(sig["target"]["key"]))
                msg = request_message(str(sig["name"]), sig.get("input"), signal=True, parent=source)
                out.messages.append(Outbound(target, h.event_raised(now, OPERATION, msg),
                                             entity=parse_entity_id(target)[0]))
            except (KeyError, TypeError, ValueError) as exc:
                self.log.error("Entity %s: dropping a malformed signal %r: %s", source, sig, exc)
        return out


def _error(message: str) -> dict[str, Any]:
    """A failed operation's result as the SDK writes it (``OperationResult``: result = JSON of the text)."""
    return {"isError": True, "result": json.dumps(message)}


def entity_records(records: Sequence[InstanceState], *, include_deleted: bool = False) -> list[EntityRecord]:
    """Entity records of the entity instances among ``records`` (others skipped); entities without state
    are left out unless ``include_deleted`` (EXT ``ListEntitiesAsync``)."""
    found = [entity_record(s) for s in records if is_entity_id(s.instance_id)]
    return found if include_deleted else [r for r in found if r.exists]

