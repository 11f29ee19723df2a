"""RuntimeState with hand-built histories and hand-written SDK answers: no SQLite, no HTTP, no user code."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.durable import history as h
from devhost.durable.models import InboxMessage, InstanceState
from devhost.durable.replay import payload_input
from devhost.durable.runtime_state import RuntimeState

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=5)
IID, EXEC = "abc", "e1"


def instance(status: str = "Running") -> InstanceState:
    return InstanceState(IID, "orch", status, None, None, None, T0, T0, "", EXEC)


def started(parent: dict[str, Any] | None = None) -> dict[str, Any]:
    return h.execution_started(T0, "orch", IID, EXEC, None, "", parent)


def first_episode(*scheduled: dict[str, Any]) -> list[dict[str, Any]]:
    """History of a first episode: OS, ES, the scheduled events, OC."""
    return [h.orchestrator_started(T0), started(), *scheduled, h.orchestrator_completed(T0)]


def msgs(*events: dict[str, Any]) -> list[InboxMessage]:
    return [InboxMessage(i, e) for i, e in enumerate(events, 1)]


def activity(name: str, inp: str = "null") -> dict[str, Any]:
    return {"actionType": 0, "functionName": name, "input": inp}


def state(*actions: dict[str, Any], done: bool = False, **extra: Any) -> dict[str, Any]:
    return {"isDone": done, "schemaVersion": 2, "actions": [list(actions)], **extra}


def run(rs: RuntimeState, messages: list[InboxMessage], answer: dict[str, Any] | None, now: datetime = T1):
    batch = rs.select_batch(messages)
    episode = rs.begin(batch, now)
    return batch, episode, rs.finish(episode, answer)


def counter_ids():
    c = itertools.count()
    return lambda: f"x{next(c)}"


def test_first_episode_schedules_activity_with_sequence_number_zero() -> None:
    """ExecutionStarted + a CallActivity answer → OS, ES, TaskScheduled(0), OC and one work item."""
    rs = RuntimeState(instance("Pending"), [])
    _, episode, out = run(rs, msgs(started()), state(activity("say_hello", '"Tokyo"')), T0)
    assert [e["EventType"] for e in episode.new_events] == [h.ORCHESTRATOR_STARTED, h.EXECUTION_STARTED]
    assert [e["EventType"] for e in out.append] == [12, 0, 4, 13]
    assert out.append[2]["EventId"] == 0 and out.append[2]["Name"] == "say_hello"
    assert [(a.task_id, a.name, a.input) for a in out.activities] == [(0, "say_hello", '"Tokyo"')]
    assert out.runtime_status == "Running"


def test_cumulative_actions_only_new_leaves_are_scheduled() -> None:
    """Old actions re-emitted by the SDK are matched to history; only the new one gets an id."""
    rs = RuntimeState(instance(), first_episode(h.task_scheduled(T0, 0, "a", "1")))
    done = h.task_completed(T1, 0, '"r"')
    _, _, out = run(rs, msgs(done), state(activity("a", "1"), activity("b", "2")))
    assert [e["EventType"] for e in out.append] == [12, 5, 4, 13]
    assert out.append[2]["EventId"] == 1 and out.append[2]["Name"] == "b"


def test_fan_out_ids_follow_depth_first_leaves_skipping_waits() -> None:
    """WhenAll children get consecutive ids; a WaitForExternalEvent takes none
    (docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions)."""
    rs = RuntimeState(instance("Pending"), [])
    when_all = {"actionType": 12, "compoundActions": [activity("a"), activity("b")]}
    wait = {"actionType": 6, "externalEventName": "E", "reason": "ExternalEvent"}
    timer = {"actionType": 5, "fireAt": "2024-01-01T00:01:00.000000Z", "isCanceled": False}
    race = {"actionType": 11, "compoundActions": [wait, timer]}
    _, _, out = run(rs, msgs(started()), state(when_all, race), T0)
    assert [a.task_id for a in out.activities] == [0, 1]
    assert [(t.timer_id, t.fire_at) for t in out.timers] == [(2, T0 + timedelta(minutes=1))]
    assert out.timers[0].event["TimerId"] == 2


def test_cancelled_timer_is_dropped() -> None:
    """A timer whose action turned isCanceled is cancelled by sequence number
    (docs/durable-extension-protocol.md#timers)."""
    timer = {"actionType": 5, "fireAt": "2024-01-04T00:00:00.000000Z", "isCanceled": False}
    rs = RuntimeState(instance(), first_episode(h.timer_created(T0, 0, T0 + timedelta(days=3))))
    raised = h.event_raised(T1, "Approval", '"yes"')
    _, _, out = run(rs, msgs(raised), state({**timer, "isCanceled": True}, done=True, output="yes"))
    assert out.cancel_timers == [0]
    assert out.runtime_status == "Completed" and out.output == '"yes"'


def test_retry_failure_creates_timer_then_reschedules_then_exhausts() -> None:
    """docs/durable-extension-protocol.md#retries: failure → TimerCreated(now + interval); timer fired →
    TaskScheduled(next id); after the last
    attempt's timer nothing more is scheduled."""
    retry = {"actionType": 1, "functionName": "flaky", "input": "null",
             "retryOptions": {"firstRetryIntervalInMilliseconds": 5000, "maxNumberOfAttempts": 2}}
    sched = h.task_scheduled(T0, 0, "flaky", "null")
    sched["_RetryOptions"] = retry["retryOptions"]
    history = first_episode(sched)
    answer = state({"actionType": 12, "compoundActions": [retry]})

    rs = RuntimeState(instance(), history)
    failed = h.task_failed(T1, 0, "Activity function 'flaky' failed: x", "{}")
    _, _, out = run(rs, msgs(failed), answer)
    timer = out.append[-2]
    assert timer["EventType"] == h.TIMER_CREATED and timer["EventId"] == 1 and timer["_RetryOf"] == 0
    assert h.parse_timestamp(timer["FireAt"]) == T1 + timedelta(seconds=5)
    assert out.timers[0].timer_id == 1 and not out.activities
    history += out.append

    rs = RuntimeState(instance(), history)
    fired = h.timer_fired(T1, 1, T1 + timedelta(seconds=5))
    _, _, out = run(rs, msgs(fired), answer)
    assert [(a.task_id, a.name) for a in out.activities] == [(2, "flaky")]
    assert out.append[-2]["_RetryOf"] == 0
    history += out.append

    rs = RuntimeState(instance(), history)
    _, _, out = run(rs, msgs(h.task_failed(T1, 2, "again", "{}")), answer)
    assert out.append[-2]["EventType"] == h.TIMER_CREATED and out.append[-2]["EventId"] == 3
    history += out.append

    rs = RuntimeState(instance(), history)
    _, _, out = run(rs, msgs(h.timer_fired(T1, 3, T1)), state(error="again"))
    assert not out.activities and out.runtime_status == "Failed"


def test_retry_relevant_event_ends_the_batch() -> None:
    """A retried attempt's failure is the last event of its batch so ids match the SDK's replay order."""
    sched = h.task_scheduled(T0, 0, "flaky", "null")
    sched["_RetryOptions"] = {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 3}
    rs = RuntimeState(instance(), first_episode(sched, h.task_scheduled(T0, 1, "b", "null")))
    messages = msgs(h.task_failed(T1, 0, "r", "d"), h.task_completed(T1, 1, "1"))
    assert [m.id for m in rs.select_batch(messages)] == [1]
    messages = msgs(
        h.task_completed(T1, 1, "1"), h.task_failed(T1, 0, "r", "d"), h.event_raised(T1, "E", None)
    )
    assert [m.id for m in rs.select_batch(messages)] == [1, 2]


def test_control_messages_are_taken_alone_and_suspended_instances_hold_events() -> None:
    """Suspend/resume are episodes of their own; a suspended instance takes only resume or terminate."""
    rs = RuntimeState(instance(), first_episode())
    messages = msgs(h.event_raised(T1, "E", None), h.execution_suspended(T1, "r"))
    assert [m.id for m in rs.select_batch(messages)] == [1]
    assert [m.id for m in rs.select_batch(messages[1:])] == [2]
    rs = RuntimeState(instance("Suspended"), first_episode())
    messages = msgs(h.event_raised(T1, "E", None), h.execution_resumed(T1, "go"))
    assert [m.id for m in rs.select_batch(messages)] == [2]
    assert rs.select_batch(messages[:1]) == []
    _, episode, out = run(rs, messages[1:], None)
    assert not episode.needs_user_code and out.runtime_status == "Running"
    assert [e["EventType"] for e in out.append] == [12, h.EXECUTION_RESUMED, 13]


def test_terminate_notifies_parent_without_running_user_code() -> None:
    """Terminate appends ExecutionTerminated + ExecutionCompleted(5) and fails the parent's task."""
    parent = {"Name": "p", "Version": "", "OrchestrationInstance": {"InstanceId": "P", "ExecutionId": "pe"},
              "TaskScheduleId": 4}
    history = [h.orchestrator_started(T0), started(parent), h.orchestrator_completed(T0)]
    rs = RuntimeState(instance(), history)
    _, episode, out = run(rs, msgs(h.event_raised(T1, "E", None), h.execution_terminated(T1, "stop")), None)
    assert not episode.needs_user_code
    assert out.runtime_status == "Terminated" and json.loads(out.output or "") == "stop"
    assert out.append[-2]["EventType"] == h.EXECUTION_COMPLETED and out.append[-2]["OrchestrationStatus"] == 5
    (msg,) = out.messages
    assert msg.instance_id == "P" and msg.event["EventType"] == h.SUB_ORCHESTRATION_FAILED
    assert msg.event["TaskScheduledId"] == 4


def test_sub_orchestration_gets_derived_id_and_default_version() -> None:
    """Without instanceId the child is '{executionId}:{seq}'; version null → host defaultVersion."""
    rs = RuntimeState(instance("Pending"), [], default_version="1.0", new_id=counter_ids())
    call = {"actionType": 2, "functionName": "child", "input": '{"n": 1}', "instanceId": None,
            "version": None}
    _, _, out = run(rs, msgs(started()), state(call), T0)
    (child,) = out.child_starts
    assert child.instance_id == f"{EXEC}:0" and child.version == "1.0"
    parent = child.start_event["ParentInstance"]
    assert parent["OrchestrationInstance"]["InstanceId"] == IID and parent["TaskScheduleId"] == 0
    assert out.append[2]["EventType"] == h.SUB_ORCHESTRATION_CREATED


def test_completion_and_failure_reach_the_parent() -> None:
    """A finished child sends SubOrchestrationInstanceCompleted/Failed to its parent's task id."""
    parent = {"Name": "p", "Version": "", "OrchestrationInstance": {"InstanceId": "P", "ExecutionId": "pe"},
              "TaskScheduleId": 7}
    rs = RuntimeState(instance("Pending"), [])
    _, _, out = run(rs, msgs(started(parent)), state(done=True, output={"a": 1}), T0)
    assert out.messages[0].event["EventType"] == h.SUB_ORCHESTRATION_COMPLETED
    assert out.messages[0].event["Result"] == '{"a": 1}'
    rs = RuntimeState(instance("Pending"), [])
    _, _, out = run(rs, msgs(started(parent)), state(error="blew up"), T0)
    assert out.runtime_status == "Failed"
    assert json.loads(out.output or "") == "Orchestrator function 'orch' failed: blew up"
    assert out.messages[0].event["Reason"] == "Orchestrator function 'orch' failed: blew up"


def test_continue_as_new_starts_a_new_execution() -> None:
    """isDone + ContinueAsNew → status ContinuedAsNew and a fresh ExecutionStarted with the new input."""
    rs = RuntimeState(instance(), first_episode(), new_id=counter_ids())
    can = state({"actionType": 4, "input": "3"}, done=True)
    _, _, out = run(rs, msgs(h.event_raised(T1, "E", None)), can)
    assert out.runtime_status == "ContinuedAsNew"
    assert out.continue_as_new is not None
    assert out.continue_as_new["Input"] == "3"
    assert out.continue_as_new["OrchestrationInstance"]["ExecutionId"] == "x0"


def test_custom_status_is_kept_only_when_sent() -> None:
    """customStatus present → written; absent → unchanged
    (docs/durable-extension-protocol.md#the-answer-orchestratorstate-and-actions)."""
    rs = RuntimeState(instance(), first_episode())
    _, _, out = run(rs, msgs(h.event_raised(T1, "E", None)), state(customStatus={"stage": 2}))
    assert out.custom_status_set and out.custom_status == '{"stage": 2}'
    rs = RuntimeState(instance(), first_episode())
    _, _, out = run(rs, msgs(h.event_raised(T1, "E", None)), state())
    assert not out.custom_status_set


def test_non_determinism_is_detected() -> None:
    """An orchestrator that now schedules another activity at a recorded position fails the instance."""
    rs = RuntimeState(instance(), first_episode(h.task_scheduled(T0, 0, "a", "null")))
    _, _, out = run(rs, msgs(h.task_completed(T1, 0, "1")), state(activity("renamed")))
    assert out.runtime_status == "Failed"
    assert "Non-Deterministic workflow detected" in (out.output or "")


def test_stale_messages_for_a_finished_instance_are_dropped() -> None:
    """Late completions for a Completed instance are consumed without changing it."""
    rs = RuntimeState(instance("Completed"), first_episode())
    batch, _, out = run(rs, msgs(h.task_completed(T1, 0, "1")), None)
    assert len(batch) == 1 and not out.state_changed


def test_payload_input_forms() -> None:
    """The payload input is what get_input() can read for every stored form
    (docs/durable-extension-protocol.md#the-orchestration-payload,
    docs/durable-extension-protocol.md#the-durable-client)."""
    assert payload_input(None) is None
    assert payload_input(json.dumps(json.dumps({"a": 1}))) == '{"a": 1}'  # Python client
    assert payload_input('{"a": 1}') == {"a": 1}  # curl object
    assert payload_input("5") == "5" and payload_input("[1, 2]") == "[1, 2]"
    assert payload_input('"plain"') == '"plain"'
