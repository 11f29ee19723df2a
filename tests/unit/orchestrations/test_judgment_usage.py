"""The orchestrator carries the case's judgment usage into each judgment activity (activities are stateless)
and charges a failed judgment attempt the most it could have called before retrying it."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrations import names, versions
from tests.unit.orchestrations.orch_fixtures import Effects, case_sim, event, fails_first


def inputs(sim, name: str) -> list[dict[str, Any]]:
    return [payload for called, payload in sim.calls if called == name]


def specialist_inputs(sim) -> list[dict[str, Any]]:
    """The judgment keys each specialist was given, in scheduling order: the ``assess_*`` inputs (before
    orchestration version 7.0) or the ``specialists`` of the ``assess_case`` inputs (7.0 on)."""
    separate = [p for called, p in sim.calls if called in names.SPECIALIST_ACTIVITIES.values()]
    return separate + [s for p in inputs(sim, names.ASSESS_CASE) for s in p["specialists"]]


@pytest.mark.parametrize("version", ["6.0", versions.CURRENT])
def test_usage_and_slots_reach_every_judgment_activity(version):
    sim = case_sim(event("order.cancel"), Effects(), version=version).run()
    assert sim.output["status"] == "completed"
    (classify,) = inputs(sim, names.CLASSIFY_CASE)
    # no usage before any model call and slot 0 of 1: left out, the activity's defaults
    assert "judgment_usage" not in classify and "judgment_slot" not in classify
    slots = sorted((p["judgment_slot"]["index"], p["judgment_slot"]["of"]) for p in specialist_inputs(sim))
    assert slots == [(0, 3), (1, 3), (2, 3)]
    assert all("judgment_usage" not in p for p in specialist_inputs(sim))
    assert sim.custom_status["judgment"]["source"] == "rules"
    assert sim.custom_status["judgment"]["calls"] == 0


@pytest.mark.parametrize("version", ["6.0", versions.CURRENT])
def test_a_failed_judgment_attempt_is_charged_before_its_retry(version):
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects, version=version)
    sim.activities[names.CLASSIFY_CASE] = fails_first(effects.table()[names.CLASSIFY_CASE])
    sim.run()
    first, second = inputs(sim, names.CLASSIFY_CASE)
    assert "judgment_usage" not in first
    # the lost attempt may have called twice (one retry); the usage travels without its zero fields
    assert second["judgment_usage"] == {"calls": 2}
    assert [p["judgment_usage"] for p in specialist_inputs(sim)] == [{"calls": 2}] * 3
    assert sim.custom_status["judgment"]["calls"] == 2


def test_a_failed_assess_case_is_retried_as_one_step_and_charged_as_three_slots():
    """From orchestration version 7.0: a lost ``assess_case`` attempt is retried whole, its three slots
    charged before the retry as the three parallel activities were (two calls per slot)."""
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects)
    sim.activities[names.ASSESS_CASE] = fails_first(effects.table()[names.ASSESS_CASE])
    sim.run()
    assert sim.output["status"] == "completed"
    first, second = inputs(sim, names.ASSESS_CASE)
    assert all("judgment_usage" not in s for s in first["specialists"])
    assert [s["judgment_usage"] for s in second["specialists"]] == [{"calls": 6}] * 3
    assert [s["judgment_slot"] for s in second["specialists"]] == [{"index": i, "of": 3} for i in range(3)]
    assert sim.activity_names().count(names.ASSESS_CASE) == 2
    assert sim.custom_status["judgment"]["calls"] == 6
