"""Golden histories captured from real devhost runs, replayed against today's orchestrators."""

from __future__ import annotations

import copy

import pytest

from tests.golden.golden_replay import load_goldens, replay_golden

GOLDENS = load_goldens()


def test_at_least_two_golden_histories_are_committed():
    """The brief asks for at least two captured histories (case and approval tier)."""
    orchestrators = {doc["orchestrator"] for _, doc in GOLDENS}
    assert len(GOLDENS) >= 2 and {"case_workflow", "approval_tier"} <= orchestrators


@pytest.mark.parametrize(("name", "document"), GOLDENS, ids=[n for n, _ in GOLDENS])
def test_golden_history_replays_deterministically(name, document):
    """Today's code schedules exactly what the captured run scheduled and returns the same output."""
    report = replay_golden(document)
    assert report.mismatches == []
    assert report.output == report.recorded


def test_a_renamed_activity_is_detected():
    """The check fails when the history and the code disagree (here: a renamed activity in the history)."""
    name, document = next((n, d) for n, d in GOLDENS if d["orchestrator"] == "case_workflow")
    edited = copy.deepcopy(document)
    first = next(e for e in edited["history"] if e["EventType"] == 4)
    first["Name"] = "load_policy_v0"
    report = replay_golden(edited)
    assert any("load_policy_v0" in m for m in report.mismatches), name


def _history_with_a_retry() -> dict:
    """A finished case_workflow history with one retried apply (failed attempt → retry timer → second
    attempt), as devhost stores and the capture script writes it (public events: no retry bookkeeping)."""
    from devhost.durable import history as h
    from tests.unit.orchestrations.orch_fixtures import Effects, case_sim, event

    effects = Effects()
    effects.fail_apply = 1
    sim = case_sim(event("order.cancel", amount=10), effects).run()
    assert sim.done and effects.applied, sim.state
    return {"scenario": "case_retried_apply", "orchestrator": "case_workflow", "instance_id": sim.instance_id,
            "history": [h.public_event(e) for e in sim.history]}


def test_a_history_with_an_activity_retry_replays():
    """Retry timers and re-attempts are allocated by the engine, so a history that has them replays."""
    document = _history_with_a_retry()
    kinds = [e["EventType"] for e in document["history"]]
    assert kinds.count(6) == 1 and 10 in kinds  # one TaskFailed, a retry timer
    report = replay_golden(document)
    assert report.mismatches == [] and report.output == report.recorded


def test_a_changed_retry_is_detected():
    """Dropping the recorded retry timer is reported (today's code writes one)."""
    document = _history_with_a_retry()
    timer = next(e for e in document["history"] if e["EventType"] == 10)
    document["history"].remove(timer)
    assert any("TimerCreated" in m for m in replay_golden(document).mismatches)
