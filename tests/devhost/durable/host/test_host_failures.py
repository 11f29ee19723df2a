"""Failures inside the host never hang an instance (issue 10 item 7).

A fault is injected at each point between the store and user code: running an activity (around the
invocation), recording its result (the store refuses it, for good or for a while), running an episode
(replay set-up), and recording an episode. Each ends as TaskFailed seen by the orchestrator / a Failed
instance naming the error, or (a passing store fault) completes normally; none stays Running. The waits
are liveness bounds (the test fails instead of hanging), not timing assertions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devhost.durable import history as h
from devhost.durable.dispatcher import Dispatcher
from tests.devhost.durable.host.conftest import Engine


def _store(engine: Engine) -> Any:
    return engine.extension._store.sync


def _failing_for(iid: str, real: Callable[..., Any], times: int | None = None,
                 match: Callable[[Any], bool] = lambda _x: True) -> Callable[..., Any]:
    """A store method that raises for batches touching instance ``iid`` (``times`` calls, or always)."""
    left = [times]

    def call(batch: Any, *args: Any) -> Any:
        ids = {getattr(x, "instance_id", None) or x.item.instance_id for x in batch if match(x)}
        if iid in ids and (left[0] is None or left[0] > 0):
            if left[0] is not None:
                left[0] -= 1
            raise OSError("injected store failure")
        return real(batch, *args)

    return call


def test_activity_failing_in_the_host_becomes_task_failed(engine: Engine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The host failing around an activity's invocation → TaskFailed with the error; the orchestrator's
    failure says so."""
    real = Dispatcher._run_activity

    async def broken(self: Dispatcher, item: Any) -> Any:
        if item.instance_id == "act-host-fail":
            raise RuntimeError("injected: cannot decode the input")
        return await real(self, item)

    monkeypatch.setattr(Dispatcher, "_run_activity", broken)
    iid = engine.start("chain", None, "act-host-fail")
    state = engine.wait(iid)
    assert state.runtime_status == "Failed"
    assert "devhost could not run the activity: RuntimeError: injected: cannot decode the input" in (
        state.output or "")
    assert h.TASK_FAILED in engine.history_types(iid)


def test_result_that_cannot_be_recorded_becomes_task_failed(engine: Engine,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording one activity's TaskCompleted fails every time → it is recorded as TaskFailed naming the
    error (the work item is not left locked)."""
    store = _store(engine)
    monkeypatch.setattr(store, "complete_activities", _failing_for(
        "rec-fail", store.complete_activities, match=lambda r: r.event["EventType"] == h.TASK_COMPLETED))
    iid = engine.start("chain", None, "rec-fail")
    state = engine.wait(iid)
    assert state.runtime_status == "Failed"
    assert "could not record the activity's result: OSError: injected store failure" in (state.output or "")
    monkeypatch.undo()
    assert store.claim_activities(10) == []  # nothing left locked or queued


def test_store_blip_while_recording_results_loses_nothing(engine: Engine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The store refusing results a few times (an outage) → they are recorded later; the instance
    completes with every result."""
    store = _store(engine)
    monkeypatch.setattr(store, "complete_activities",
                        _failing_for("rec-blip", store.complete_activities, times=4))
    iid = engine.start("chain", None, "rec-blip")
    state = engine.wait(iid)
    assert state.runtime_status == "Completed"
    assert json.loads(state.output or "null") == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_episode_failing_in_the_host_fails_the_instance(engine: Engine,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An episode that fails inside the host every time is retried twice, then the instance is Failed with
    the error (not retried forever)."""
    real = Dispatcher._plan_episode
    attempts: list[str] = []

    def broken(self: Dispatcher, loaded: Any, now: Any) -> Any:
        if loaded.instance.instance_id == "ep-host-fail":
            attempts.append("x")
            raise KeyError("injected: history index broken")
        return real(self, loaded, now)

    monkeypatch.setattr(Dispatcher, "_plan_episode", broken)
    iid = engine.start("chain", None, "ep-host-fail")
    state = engine.wait(iid)
    assert state.runtime_status == "Failed" and len(attempts) == 3
    assert "devhost could not run the episode (3 attempts): KeyError" in (state.output or "")
    assert state.failure_details and "injected" in state.failure_details["ErrorMessage"]


def test_episode_that_cannot_be_recorded_fails_the_instance(engine: Engine,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Committing an instance's episode fails every time (but its failure can be recorded) → Failed with
    the error; other instances in the same batches are unaffected."""
    store = _store(engine)
    monkeypatch.setattr(store, "commit_episodes", _failing_for(
        "commit-fail", store.commit_episodes, match=lambda c: c.outcome.runtime_status != "Failed"))
    iid = engine.start("chain", None, "commit-fail")
    other = engine.start("chain", None, "commit-ok")
    state = engine.wait(iid)
    assert state.runtime_status == "Failed"
    assert "devhost could not record the episode (3 attempts): OSError: injected store failure" in (
        state.output or "")
    assert engine.wait(other).runtime_status == "Completed"
