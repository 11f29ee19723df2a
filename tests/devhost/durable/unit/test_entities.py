"""Durable entities without a host: the wire pieces of devhost/durable/entities.py against the real SDK
(azure-functions-durable 1.x): ids, the operation input per sender, one orchestration talking to an entity
through RuntimeState + EntityRunner (call result, signal, an operation's exception), and batches that
cannot run (unknown entity function, a handler breaking the protocol)."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.actions.CallEntityAction import CallEntityAction
from azure.durable_functions.models.DurableEntityContext import DurableEntityContext

from devhost.durable import entities
from devhost.durable import history as h
from devhost.durable.models import EpisodeInput, InboxMessage, InstanceState
from devhost.durable.replay import build_payload, execute, payload_input, played_text
from devhost.durable.runtime_state import RuntimeState
from devhost.functions.interfaces import FunctionInfo

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LOG = logging.getLogger("test.entities")


def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name == "fail":
        raise ValueError("no such luck")
    context.set_state(value)
    context.set_result(value)


def entity_function(fn: Any, name: str = "Counter", entity_name: str | None = None) -> FunctionInfo:
    trigger = {"type": "entityTrigger", "name": "context"}
    if entity_name:
        trigger["entityName"] = entity_name
    return FunctionInfo(name, trigger, [trigger], df.Entity.create(fn), False, ["context"])


def decoded_input(input_text: str | None) -> Any:
    """What ``context.get_input()`` returns for a RequestMessage input (through the SDK's own context)."""
    ctx, _ = DurableEntityContext.from_json(json.dumps(
        {"self": {"name": "n", "key": "k"}, "exists": False, "state": None, "batch": []}))
    ctx._input = input_text
    return ctx.get_input()


def test_ids_match_the_sdk() -> None:
    sdk_id = df.EntityId.get_scheduler_id(df.EntityId("Counter", "My@Key"))
    assert entities.scheduler_id("Counter", "My@Key") == sdk_id == "@counter@My@Key"
    assert entities.parse_entity_id(sdk_id) == ("counter", "My@Key")
    assert entities.is_entity_id("@a@")
    assert not entities.is_entity_id("@@k") and not entities.is_entity_id("abc")


def test_operation_input_per_sender_decodes_like_on_azure() -> None:
    """The SDK client's body (``json.dumps(input)`` sent as JSON), plain text and an orchestrator's action
    all reach ``get_input`` as the value; a raw JSON number posted as JSON does not (as on Azure)."""
    sdk_body = json.dumps(json.dumps({"amount": 5})).encode()  # what client.signal_entity posts
    assert decoded_input(entities.client_input(sdk_body, "application/json; charset=utf-8")) == {"amount": 5}
    assert decoded_input(entities.client_input(b"5", "text/plain")) == 5
    assert entities.client_input(b"", "application/json") is None
    try:
        decoded_input(entities.client_input(b"5", "application/json"))
        raise AssertionError("a bare JSON number must not decode")
    except TypeError:
        pass
    action = CallEntityAction(df.EntityId("Counter", "k"), "add", 5).to_json()
    sent, message = entities.orchestration_request(T0, 3, action, "caller", signal=False)
    request = json.loads(sent["Input"])
    assert (sent["EventType"], sent["EventId"], sent["InstanceId"], sent["Name"]) == (
        h.EVENT_SENT, 3, "@counter@k", "op")
    assert decoded_input(request["input"]) == 5 and request["parent"] == "caller" and "signal" not in request
    assert (message.instance_id, message.entity) == ("@counter@k", "counter")
    assert message.event["Input"] == sent["Input"]


class Loop:
    """One orchestration and its entities, moved by hand: episodes through RuntimeState + the SDK, entity
    batches through EntityRunner with the SDK's entity handler."""

    def __init__(self, orchestrator: Any, functions: list[FunctionInfo]) -> None:
        self.handler = df.Orchestrator.create(orchestrator)
        self.runner = entities.EntityRunner(functions, LOG)
        self.history: list[dict[str, Any]] = []
        self.inbox: dict[str, list[InboxMessage]] = {"orch": []}
        self.entities: dict[str, InstanceState] = {}
        self.ids = itertools.count(1)
        self.now, self.status, self.output = T0, "Pending", None

    def post(self, instance_id: str, event: dict[str, Any], entity: str | None = None) -> None:
        if entity and instance_id not in self.entities:
            self.entities[instance_id] = InstanceState(instance_id, entity, "Running", None, None, None,
                                                       T0, T0)
        self.inbox.setdefault(instance_id, []).append(InboxMessage(next(self.ids), event))

    def run(self) -> Any:
        self.post("orch", h.execution_started(T0, "orch", "orch", "e1", None))
        while self.status not in ("Completed", "Failed"):
            self.now += timedelta(milliseconds=1)
            rs = RuntimeState(InstanceState("orch", "orch", self.status, None, None, None, T0, T0, "", "e1"),
                              self.history)
            batch, self.inbox["orch"] = self.inbox["orch"], []
            assert batch, f"stuck; history {self.history}"
            ep = rs.begin(rs.select_batch(batch), self.now)
            payload = build_payload("orch", None, [played_text(e) for e in self.history], ep.new_events,
                                    payload_input(None))
            result = execute(self.handler, payload)
            out = rs.finish(ep, result.state, result.error)
            self.history += out.append
            self.status, self.output = out.runtime_status, out.output
            for msg in out.messages:
                self.post(msg.instance_id, msg.event, msg.entity)
            for iid in [i for i in self.entities if self.inbox.get(i)]:
                self.batch(iid)
        return json.loads(self.output or "null")

    def batch(self, iid: str) -> entities.EpisodeCommit:
        loaded = EpisodeInput(self.entities[iid], [], [], self.inbox.pop(iid))
        commit = self.runner.plan(loaded, self.now)
        assert commit is not None and commit.consumed == [m.id for m in loaded.messages]
        self.entities[iid] = InstanceState(iid, self.entities[iid].name, "Running", commit.outcome.input,
                                           None, None, T0, T0)
        for msg in commit.outcome.messages:
            self.post(msg.instance_id, msg.event, msg.entity)
        return commit


def test_orchestration_calls_and_signals_an_entity_through_the_sdk() -> None:
    """signal add 3, call add 4 → 7, a failing call raises the operation's message in the orchestrator,
    and a call on a never-registered entity fails with the extension's text."""
    def orchestrator(context: df.DurableOrchestrationContext):
        counter_id = df.EntityId("Counter", "k")
        context.signal_entity(counter_id, "add", 3)
        total = yield context.call_entity(counter_id, "add", 4)
        try:
            yield context.call_entity(counter_id, "fail")
        except Exception as exc:
            caught = str(exc)
        try:
            yield context.call_entity(df.EntityId("Nope", "k"), "add", 1)
        except Exception as exc:
            missing = str(exc)
        return [total, caught, missing]

    loop = Loop(orchestrator, [entity_function(counter)])
    total, caught, missing = loop.run()
    assert (total, caught) == (7, "no such luck")
    assert missing.startswith("The function 'nope' doesn't exist, is disabled, or is not an entity function.")
    assert [e["EventType"] for e in loop.history].count(h.EVENT_SENT) == 4
    assert entities.scheduler_state(loop.entities["@counter@k"].input) == (True, "7")


def test_entity_name_alias_and_a_handler_breaking_the_protocol() -> None:
    """The entity is found by ``entityName`` ignoring case; a handler whose answer is not the SDK's JSON
    fails every operation of the batch and keeps the state."""
    broken = FunctionInfo("bad", {"type": "entityTrigger", "name": "c", "entityName": "Bad"}, [],
                          lambda _payload: "not json", False, ["c"])
    runner = entities.EntityRunner([entity_function(counter, "counter_fn", "Tally"), broken], LOG)
    assert runner.names == {"tally", "bad"}
    state = InstanceState("@bad@k", "bad", "Running", json.dumps({"exists": True, "state": "2"}), None, None,
                          T0, T0)
    call = entities.request_message("add", json.dumps("1"), signal=False, parent="caller", request_id="r1")
    commit = runner.plan(EpisodeInput(state, [], [], [InboxMessage(1, h.event_raised(T0, "op", call)),
                                                      InboxMessage(2, h.execution_terminated(T0, "x"))]), T0)
    assert commit is not None and commit.consumed == [1, 2]
    assert entities.scheduler_state(commit.outcome.input) == (True, "2")
    (answer,) = commit.outcome.messages
    response = json.loads(answer.event["Input"])
    assert (answer.instance_id, answer.event["Name"], response["exceptionType"]) == ("caller", "r1", "Error")
    assert "Entity function 'bad' failed" in json.loads(response["result"])
