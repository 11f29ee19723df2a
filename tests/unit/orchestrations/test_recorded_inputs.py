"""Replayed activity inputs come from the history (orchestrations/recorded_inputs.py) and are byte for byte
the inputs a rebuild would send: every episode of a case history written by today's code answers the same
OrchestratorState JSON (actions with their inputs, custom status, output) with and without the reuse, and
the golden histories (some recorded older inputs) still replay with it."""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import pytest

from devhost.durable import replay
from orchestrations import names, recorded_inputs, versions
from orchestrations.case_workflow import case_workflow_orchestrator
from orchestrations.recorded_inputs import RecordedInputs, decode
from tests.golden.golden_replay import episodes
from tests.unit.orchestrations.orch_fixtures import Approvals, Effects, case_sim, decision, event, fails_first


def _answers(instance_id: str, history: list[dict[str, Any]]) -> list[str]:
    """The handler's answer for each episode of ``history`` (earlier episodes played, this one new)."""
    handler = df.Orchestrator.create(case_workflow_orchestrator)
    started = next(e for e in history if e["EventType"] == 0)
    case_input = replay.payload_input(started.get("Input"))
    cut = episodes(history)
    answers = []
    for number in range(1, len(cut) + 1):
        played = [replay.played_text(e) for episode in cut[: number - 1] for e in episode]
        payload = replay.build_payload(instance_id, None, played, cut[number - 1], case_input)
        answers.append(handler(payload))
    return answers


def _auto(version: str = versions.CURRENT) -> Any:
    return case_sim(event("order.cancel", amount=20), Effects(), version=version)


def _approved() -> Any:
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate)]])
    return case_sim(event("account.change", field="iban"), Effects(), approvals)


def _flaky_classify() -> Any:
    effects = Effects()
    sim = case_sim(event("order.cancel", amount=20), effects)
    sim.activities[names.CLASSIFY_CASE] = fails_first(effects.table()[names.CLASSIFY_CASE])
    return sim


SCENARIOS = {
    "auto": _auto,
    "approved": _approved,
    "classify retried": _flaky_classify,
    "auto, version 1.0": lambda: _auto("1.0"),
    "auto, version 3.0": lambda: _auto("3.0"),
    "auto, version 4.0": lambda: _auto("4.0"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_replayed_inputs_are_the_inputs_a_rebuild_sends(scenario, monkeypatch):
    sim = SCENARIOS[scenario]().run()
    assert sim.output["status"] == "completed", sim.state
    history = sim.history
    reused = _answers(sim.instance_id, history)
    taken: list[str] = []
    original = RecordedInputs.next

    def rebuild(self: RecordedInputs, activity: str) -> None:
        if original(self, activity) is not None:
            taken.append(activity)
        return None

    monkeypatch.setattr(recorded_inputs.RecordedInputs, "next", rebuild)
    rebuilt = _answers(sim.instance_id, history)
    assert len(taken) >= 10, taken
    assert reused == rebuilt
    assert json.loads(reused[-1])["isDone"] is True


def test_decode_reads_text_encoded_once_or_twice():
    value = {"a": 1, "b": [1.5, "\u00e9"], "c": None}
    once = json.dumps(value)
    assert decode(once) == value
    assert decode(json.dumps(once)) == value
    assert json.dumps(decode(once)) == once


@pytest.mark.parametrize("text", [None, "", "nope", "[1, 2]", '"plain"', "3", json.dumps(json.dumps("x"))])
def test_decode_refuses_anything_but_an_object(text):
    assert decode(text) is None


def test_next_counts_schedulings_per_name():
    class Event:
        def __init__(self, event_type: int, name: str | None, text: str | None) -> None:
            self.event_type, self.Name, self.Input = event_type, name, text

    class Context:
        def __init__(self) -> None:
            self.histories = [
                Event(4, "notify", '{"n": 1}'),
                Event(5, "notify", None),
                Event(4, "apply_action", '{"a": 1}'),
                Event(4, "notify", '{"n": 2}'),
            ]

    recorded = RecordedInputs(Context())
    assert recorded.next("notify") == {"n": 1}
    assert recorded.next("apply_action") == {"a": 1}
    assert recorded.next("notify") == {"n": 2}
    assert recorded.next("notify") is None
    assert recorded.next("apply_action") is None
    assert RecordedInputs(object()).next("notify") is None
