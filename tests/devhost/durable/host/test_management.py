"""Instance management at the engine level: terminate, suspend/resume, rewind, restart, purge, query."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from devhost.durable import history as h
from devhost.durable.errors import (
    InstanceAlreadyExists,
    InstanceGone,
    InstanceNotFound,
    InvalidOperation,
    UnknownOrchestrator,
)
from tests.devhost.durable.host.conftest import Engine


def test_suspend_resume_terminate_while_waiting(engine: Engine) -> None:
    """Events raised while Suspended are held until resume; terminate ends the instance with the reason."""
    engine.clock.set_auto_advance(False)
    try:
        iid = engine.start("two_events")
        engine.wait_until(iid, lambda s: s.runtime_status == "Running")
        engine.run(engine.hub.suspend(iid, "hold on"))
        engine.wait_until(iid, lambda s: s.runtime_status == "Suspended")
        with pytest.raises(InvalidOperation):
            engine.run(engine.hub.suspend(iid, "again"))
        engine.run(engine.hub.raise_event(iid, "First", '"one"'))
        engine.run(engine.hub.wait_for_change(iid, 0.3))
        held = engine.state(iid)
        assert held.runtime_status == "Suspended" and held.custom_status is None
        engine.run(engine.hub.resume(iid, "go"))
        state = engine.wait_until(iid, lambda s: s.custom_status == '"got first"')
        assert state.runtime_status == "Running"
        with pytest.raises(InvalidOperation):
            engine.run(engine.hub.resume(iid, "not suspended"))
        engine.run(engine.hub.terminate(iid, "enough"))
        state = engine.wait(iid)
        assert state.runtime_status == "Terminated"
        assert json.loads(state.output or "") == "enough"
        types = engine.history_types(iid)
        assert h.EXECUTION_SUSPENDED in types and h.EXECUTION_RESUMED in types
        assert h.EXECUTION_TERMINATED in types
        with pytest.raises(InstanceGone):
            engine.run(engine.hub.raise_event(iid, "Second", "1"))
        with pytest.raises(InstanceGone):
            engine.run(engine.hub.terminate(iid, "twice"))
    finally:
        engine.clock.set_auto_advance(True)


def test_unknown_instance_and_orchestrator_errors(engine: Engine) -> None:
    """Operations on unknown ids raise InstanceNotFound; unknown orchestrators and bad ids are refused."""
    for op in (engine.hub.raise_event("nope", "E", None), engine.hub.terminate("nope", None),
               engine.hub.suspend("nope", None), engine.hub.resume("nope", None),
               engine.hub.rewind("nope", None), engine.hub.restart("nope", True)):
        with pytest.raises(InstanceNotFound):
            engine.run(op)
    with pytest.raises(UnknownOrchestrator):
        engine.start("no_such_orchestrator")
    with pytest.raises(ValueError):
        engine.start("chain", instance_id="bad/id")
    assert engine.run(engine.hub.get_instance("nope")) is None


def test_start_with_existing_id(engine: Engine) -> None:
    """A running id is refused; a finished one is replaced by a fresh execution."""
    engine.clock.set_auto_advance(False)
    try:
        engine.start("two_events", instance_id="dup-1")
        with pytest.raises(InstanceAlreadyExists):
            engine.start("two_events", instance_id="dup-1")
        engine.run(engine.hub.terminate("dup-1", None))
        engine.wait("dup-1")
    finally:
        engine.clock.set_auto_advance(True)
    engine.start("chain", instance_id="dup-1")
    state = engine.wait("dup-1")
    assert state.name == "chain" and state.runtime_status == "Completed"


def test_rewind_reruns_the_failed_activity(engine: Engine) -> None:
    """Rewinding a failed instance reruns only the failed activity; after two rewinds it succeeds."""
    iid = engine.start("rewindable")
    assert engine.wait(iid).runtime_status == "Failed"
    with pytest.raises(InvalidOperation):
        engine.run(engine.hub.resume(iid, None))
    engine.run(engine.hub.rewind(iid, "retry"))
    engine.wait_until(iid, lambda s: s.runtime_status == "Failed" and "failure 2" in (s.output or ""))
    engine.run(engine.hub.rewind(iid, "retry again"))
    state = engine.wait_until(iid, lambda s: s.runtime_status == "Completed")
    assert json.loads(state.output or "") == ["Hello before!", "ok after 3"]
    events = engine.run(engine.hub.get_history(iid))
    hello = [e for e in events if e["EventType"] == h.TASK_SCHEDULED and e["Name"] == "say_hello"]
    assert len(hello) == 1
    with pytest.raises(InstanceGone):
        engine.run(engine.hub.rewind(iid, "completed"))


def test_restart_with_same_and_new_id(engine: Engine) -> None:
    """restart re-runs the orchestrator with the original input, under a new or the same id."""
    iid = engine.start("fan_out", "3")
    engine.wait(iid)
    new_id = engine.run(engine.hub.restart(iid, True))
    assert new_id != iid
    assert json.loads(engine.wait(new_id).output or "") == 6
    same = engine.run(engine.hub.restart(iid, False))
    assert same == iid
    assert engine.wait(iid).runtime_status == "Completed"


def test_query_filters_and_paging(engine: Engine) -> None:
    """query filters by status, prefix and creation time and pages with a continuation token."""
    ids = [engine.start("chain", instance_id=f"page-{i}") for i in range(5)]
    for iid in ids:
        engine.wait(iid)
    page, token = engine.run(engine.hub.query(instance_id_prefix="page-", top=2))
    assert [s.instance_id for s in page] == ids[:2] and token
    seen = [s.instance_id for s in page]
    while token:
        page, token = engine.run(engine.hub.query(instance_id_prefix="page-", top=2, continuation=token))
        seen += [s.instance_id for s in page]
    assert seen == ids
    done, _ = engine.run(engine.hub.query(statuses=["Completed"], instance_id_prefix="page-"))
    assert len(done) == 5
    future, _ = engine.run(engine.hub.query(created_from=engine.clock.now() + timedelta(days=1)))
    assert future == []


def test_purge_one_and_by_filter(engine: Engine) -> None:
    """purge deletes one instance; purge_by deletes terminal instances in a time range."""
    a = engine.start("chain", instance_id="purge-a")
    b = engine.start("chain", instance_id="purge-b")
    engine.wait(a)
    engine.wait(b)
    assert engine.run(engine.hub.purge(a)) == 1
    assert engine.run(engine.hub.get_instance(a)) is None
    assert engine.run(engine.hub.purge(a)) == 0
    state = engine.state(b)
    n = engine.run(engine.hub.purge_by(created_from=state.created_time, created_to=state.created_time))
    assert n >= 1
    assert engine.run(engine.hub.get_instance(b)) is None
