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
