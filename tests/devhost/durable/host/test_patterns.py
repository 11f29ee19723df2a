"""The Durable Functions application patterns, run by devhost's engine through the real SDK replay."""

from __future__ import annotations

import json
from datetime import timedelta

from devhost.durable import history as h
from tests.devhost.durable.host.conftest import Engine


def test_function_chaining(engine: Engine) -> None:
    """Three chained activities complete in order with their results."""
    iid = engine.start("chain")
    state = engine.wait(iid)
    assert state.runtime_status == "Completed"
    assert json.loads(state.output or "") == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    types = engine.history_types(iid)
    assert types.count(h.TASK_SCHEDULED) == 3 and types.count(h.TASK_COMPLETED) == 3
    assert types[-2:] == [h.EXECUTION_COMPLETED, h.ORCHESTRATOR_COMPLETED]


def test_fan_out_fan_in_200(engine: Engine) -> None:
    """200 parallel activities are all scheduled with distinct sequence numbers and their results summed."""
    iid = engine.start("fan_out", "200")
    state = engine.wait(iid, 60)
    assert json.loads(state.output or "") == 2 * sum(range(200))
    events = engine.run(engine.hub.get_history(iid))
    scheduled = [e["EventId"] for e in events if e["EventType"] == h.TASK_SCHEDULED]
    assert sorted(scheduled) == list(range(200))


def test_human_interaction_event_wins(engine: Engine) -> None:
    """An approval raised before the 72 h timer wins the task_any; the timer is cancelled."""
    engine.clock.set_auto_advance(False)
    try:
        iid = engine.start("approval")
        engine.wait_until(iid, lambda s: s.runtime_status == "Running")
        engine.run(engine.hub.raise_event(iid, "Approval", json.dumps({"by": "alice"})))
        state = engine.wait(iid)
        assert json.loads(state.output or "") == {"approved": {"by": "alice"}}
        assert json.loads(state.custom_status or "") == {"stage": "approved"}
        due = engine.run(engine.hub.store.next_visible_at(engine.clock.now()))
        assert due is None  # the cancelled 72 h timer no longer exists
    finally:
        engine.clock.set_auto_advance(True)


def test_human_interaction_times_out_after_72h_in_milliseconds(engine: Engine) -> None:
    """Without an approval the virtual clock skips 72 h and the timer wins, in real milliseconds."""
    before = engine.clock.now()
    iid = engine.start("approval")
    state = engine.wait(iid)
    out = json.loads(state.output or "")
    assert out["approved"] is None
    assert engine.clock.now() - before >= timedelta(hours=72)
    assert json.loads(state.custom_status or "") == {"stage": "timed out"}


def test_monitor_loop_of_timers(engine: Engine) -> None:
    """Three successive 30-minute durable timers fire in order."""
    before = engine.clock.now()
    iid = engine.start("monitor")
    state = engine.wait(iid)
    assert json.loads(state.output or "") == [0, 1, 2]
    assert engine.clock.now() - before >= timedelta(minutes=90)
    assert engine.history_types(iid).count(h.TIMER_FIRED) == 3


def test_sub_orchestrations(engine: Engine) -> None:
    """Sub-orchestrations return results, get derived or given ids and their failure reaches the parent."""
    iid = engine.start("parent")
    state = engine.wait(iid)
    out = json.loads(state.output or "")
    assert out["chain"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert out["child"] == {"version": "1.0", "parent": iid}
    assert "Orchestrator function 'boom_orchestrator' failed: orchestrator blew up" in out["failed"]
    child = engine.state("fixed-child-id")
    assert child.runtime_status == "Completed" and child.parent_instance_id == iid
    events = engine.run(engine.hub.get_history(iid))
    created = [e for e in events if e["EventType"] == h.SUB_ORCHESTRATION_CREATED]
    assert created[0]["InstanceId"] == f"{state.execution_id}:0"


def test_retried_activity_succeeds_on_third_attempt(engine: Engine) -> None:
    """call_activity_with_retry: two failures, two retry timers, success on attempt 3."""
    iid = engine.start("retry_ok")
    state = engine.wait(iid)
    assert json.loads(state.output or "") == "ok after 3"
    types = engine.history_types(iid)
    assert types.count(h.TASK_SCHEDULED) == 3
    assert types.count(h.TASK_FAILED) == 2
    assert types.count(h.TIMER_CREATED) == 2


def test_retried_activity_exhausts_attempts(engine: Engine) -> None:
    """After the last attempt (and its extra retry timer) the orchestration fails with the last error."""
    iid = engine.start("retry_exhaust")
    state = engine.wait(iid)
    assert state.runtime_status == "Failed"
    assert "activity exploded: retried" in (state.output or "")
    types = engine.history_types(iid)
    assert types.count(h.TASK_SCHEDULED) == 2 and types.count(h.TIMER_FIRED) == 2


def test_activity_exception_surfaces_in_orchestrator_and_status(engine: Engine) -> None:
    """The activity's exception text reaches the orchestrator (caught) and the failed status (uncaught)."""
    iid = engine.start("activity_failure")
    state = engine.wait(iid)
    assert state.runtime_status == "Failed"
    output = json.loads(state.output or "")
    assert output.startswith("Orchestrator function 'activity_failure' failed: ")
    assert "Activity function 'boom' failed:  ValueError: activity exploded: uncaught" in output
    assert state.failure_details is not None


def test_continue_as_new(engine: Engine) -> None:
    """continue_as_new restarts the instance with new input until it completes; history is per execution."""
    iid = engine.start("counter", "0")
    state = engine.wait(iid)
    out = json.loads(state.output or "")
    assert out["final"] == 5
    assert engine.history_types(iid).count(h.EXECUTION_STARTED) == 1
    assert json.loads(engine.run(engine.hub.get_history(iid))[1]["Input"]) == 5


def test_custom_status_and_event_raised_before_wait(engine: Engine) -> None:
    """An event raised before its wait is buffered; custom status is visible between episodes."""
    engine.clock.set_auto_advance(False)
    try:
        iid = engine.start("two_events")
        engine.run(engine.hub.raise_event(iid, "Second", '"two"'))
        engine.wait_until(iid, lambda s: s.runtime_status == "Running")
        engine.run(engine.hub.raise_event(iid, "First", '"one"'))
        state = engine.wait(iid)
        assert json.loads(state.output or "") == ["one", "two"]
        assert json.loads(state.custom_status or "") == "got first"
    finally:
        engine.clock.set_auto_advance(True)


def test_versioning_default_version(engine: Engine) -> None:
    """host.json defaultVersion is stamped on new instances and sub-orchestrations; an explicit one wins."""
    state = engine.wait(engine.start("versioned"))
    assert json.loads(state.output or "")["version"] == "1.0"
    assert state.version == "1.0"
    state = engine.wait(engine.start("versioned", version="2.0"))
    out = json.loads(state.output or "")
    assert out["version"] == "2.0" and out["child"]["version"] == "1.0"


def test_sub_orchestration_with_retry(engine: Engine) -> None:
    """A failing sub-orchestration is retried as a new child (new derived id) until it succeeds."""
    iid = engine.start("sub_retry")
    state = engine.wait(iid)
    assert json.loads(state.output or "") == "ok after 3"
    events = engine.run(engine.hub.get_history(iid))
    children = [e["InstanceId"] for e in events if e["EventType"] == h.SUB_ORCHESTRATION_CREATED]
    assert len(children) == 3 and len(set(children)) == 3
    assert [e["EventType"] for e in events].count(h.SUB_ORCHESTRATION_FAILED) == 2


def test_terminate_pending_instance(engine: Engine) -> None:
    """An instance terminated before its first episode ends Terminated without running user code."""
    engine.clock.set_auto_advance(False)
    try:
        iid = engine.start("two_events")
        engine.run(engine.hub.terminate(iid, "never mind"))
        state = engine.wait(iid)
    finally:
        engine.clock.set_auto_advance(True)
    assert state.runtime_status == "Terminated"
    assert engine.history_types(iid)[:2] == [h.ORCHESTRATOR_STARTED, h.EXECUTION_STARTED]
