"""The orchestrator carries the case's judgment usage into each judgment activity (activities are stateless)
and charges a failed judgment attempt the most it could have called before retrying it."""

from __future__ import annotations

from typing import Any

from orchestrations import names
from tests.unit.orchestrations.orch_fixtures import Effects, case_sim, event, fails_first


def inputs(sim, name: str) -> list[dict[str, Any]]:
    return [payload for called, payload in sim.calls if called == name]


def test_usage_and_slots_reach_every_judgment_activity():
    sim = case_sim(event("order.cancel"), Effects()).run()
    assert sim.output["status"] == "completed"
    (classify,) = inputs(sim, names.CLASSIFY_CASE)
    # no usage before any model call and slot 0 of 1: left out, the activity's defaults
    assert "judgment_usage" not in classify and "judgment_slot" not in classify
    slots = sorted(
        (p["judgment_slot"]["index"], p["judgment_slot"]["of"])
        for name in names.SPECIALIST_ACTIVITIES.values()
        for p in inputs(sim, name)
    )
    assert slots == [(0, 3), (1, 3), (2, 3)]
    assert sim.custom_status["judgment"]["source"] == "rules"
    assert sim.custom_status["judgment"]["calls"] == 0


def test_a_failed_judgment_attempt_is_charged_before_its_retry():
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects)
    sim.activities[names.CLASSIFY_CASE] = fails_first(effects.table()[names.CLASSIFY_CASE])
    sim.run()
    first, second = inputs(sim, names.CLASSIFY_CASE)
    assert "judgment_usage" not in first
    # the lost attempt may have called twice (one retry); the usage travels without its zero fields
    assert second["judgment_usage"] == {"calls": 2}
    specialist = inputs(sim, names.ASSESS_RISK)[0]
    assert specialist["judgment_usage"] == {"calls": 2}
    assert sim.custom_status["judgment"]["calls"] == 2
