"""``assess_case`` (orchestration version 7.0): the three specialists in one activity.

Called as a plain function (the user function behind ``@case_step``) with the shipped policy: its output is
what the three ``assess_*`` activities return for the same slots, each specialist keeps its span (a child of
``case.assess_case``) and its log line, the agent judgment runs the specialists side by side, and a failing
specialist fails the step as a whole.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import activities.case_steps as steps
from orchestrations import names
from shared.contracts.event import BusinessEvent
from shared.judgment import default_judgment
from shared.judgment_settings import JudgmentSettings
from shared.policy_ref import from_load_result
from tests.fixtures.functions import user_fn

CASE = "case-assess-1"
SPECIALISTS = list(names.SPECIALIST_ACTIVITIES)




def base_input() -> dict[str, Any]:
    """classify's input and output for an account change: what the specialists are given."""
    event = BusinessEvent(
        event_id="evt-assess-1", source="tests", type="account.change", subject="account-7",
        requester="alice", occurred_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC), format="plain", channel="http",
        attributes={}, data={},
    )
    loaded = user_fn(steps.load_policy)({"case_instance_id": CASE, "event_id": event.event_id})
    policy = from_load_result(loaded).input
    base = {"case_instance_id": CASE, "event": event.model_dump(mode="json"), **policy}
    classified = user_fn(steps.classify_case)(base)
    return {**base, "classification": classified["value"]}


def slots(usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The three slots as ``JudgmentTally.step_input`` gives them."""
    extra = {"judgment_usage": usage} if usage else {}
    return [{**extra, "judgment_slot": {"index": i, "of": 3}} for i in range(3)]


def test_the_output_is_what_the_three_assess_steps_return_in_order():
    base = base_input()
    usage = {"calls": 2}
    specialists = [{"specialist": n, **s} for n, s in zip(SPECIALISTS, slots(usage), strict=True)]
    out = user_fn(steps.assess_case)({**base, "specialists": specialists})
    separate = [
        user_fn(getattr(steps, activity))({**base, **slot})
        for activity, slot in zip(names.SPECIALIST_ACTIVITIES.values(), slots(usage), strict=True)
    ]
    assert out == {"assessed": separate}
    assert [a["value"]["specialist"] for a in out["assessed"]] == SPECIALISTS


def test_each_specialist_keeps_its_span_and_log_line(exported, caplog):
    base = base_input()
    exported.clear()
    with caplog.at_level(logging.INFO, logger="case_workflow.activities"):
        user_fn(steps.assess_case)({**base, "specialists": [{"specialist": n} for n in SPECIALISTS]})

    spans = exported.get_finished_spans()
    step = next(s for s in spans if s.name == "case.assess_case")
    parts = [s for s in spans if s.name != "case.assess_case"]
    assert [s.name for s in parts] == [f"case.assess_{n}" for n in SPECIALISTS]
    assert all(s.parent is not None and s.parent.span_id == step.context.span_id for s in parts)
    assert all(s.attributes["case.run_id"] == CASE and s.attributes["case.risk_class"] == "privileged"
               and s.attributes["case.judgment_source"] == "rules" for s in parts)
    assert step.attributes["case.judgment_source"] == "rules" and step.attributes["case.cost_estimate"] == 0.0
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "case_workflow.activities"]
    assert [line["step"] for line in lines] == [*(f"assessed_{n}" for n in SPECIALISTS), "assessed_case"]
    assert all(line["run_id"] == CASE and "recommendation" in line for line in lines[:3])
    assert set(lines[3]["recommendations"]) == set(SPECIALISTS)


def test_with_the_agent_the_specialists_run_side_by_side(exported, monkeypatch):
    """All three specialists are inside their judgment at once (a barrier of three passes only then; its
    timeout only guards against a hang), on the pool's threads, each span still under the step's."""
    agent = JudgmentSettings.from_env({"CASE_JUDGMENT": "agent", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                                       "OPENAI_MODEL": "scripted"})
    monkeypatch.setattr(steps.JudgmentSettings, "from_env", staticmethod(lambda *a, **k: agent))
    barrier = threading.Barrier(3, timeout=60)
    threads: list[str] = []
    real = steps.judge_assessment

    def judged(judgment, specialist, event, classification, policy):
        threads.append(threading.current_thread().name)
        barrier.wait()
        return real(default_judgment(policy), specialist, event, classification, policy)

    monkeypatch.setattr(steps, "judge_assessment", judged)
    base = base_input()
    exported.clear()
    out = user_fn(steps.assess_case)({**base, "specialists": [{"specialist": n} for n in SPECIALISTS]})
    assert [a["value"]["specialist"] for a in out["assessed"]] == SPECIALISTS
    assert len(set(threads)) == 3 and all(t.startswith("case-specialist") for t in threads)
    spans = exported.get_finished_spans()
    step = next(s for s in spans if s.name == "case.assess_case")
    parts = [s for s in spans if s.name.startswith("case.assess_") and s is not step]
    assert sorted(s.name for s in parts) == sorted(f"case.assess_{n}" for n in SPECIALISTS)
    assert all(s.parent is not None and s.parent.span_id == step.context.span_id for s in parts)


@pytest.mark.parametrize("mode", ["rules", "agent"])
def test_a_failing_specialist_fails_the_step_as_a_whole(exported, monkeypatch, mode):
    settings = JudgmentSettings.from_env(
        {"CASE_JUDGMENT": mode, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_MODEL": "scripted"}
        if mode == "agent" else {}
    )
    monkeypatch.setattr(steps.JudgmentSettings, "from_env", staticmethod(lambda *a, **k: settings))
    real = steps.judge_assessment

    def judged(judgment, specialist, event, classification, policy):
        if specialist == "risk":
            raise RuntimeError("risk specialist lost")
        return real(default_judgment(policy), specialist, event, classification, policy)

    monkeypatch.setattr(steps, "judge_assessment", judged)
    base = base_input()
    exported.clear()
    with pytest.raises(RuntimeError, match="risk specialist lost"):
        user_fn(steps.assess_case)({**base, "specialists": [{"specialist": n} for n in SPECIALISTS]})
    status = {s.name: s.status.status_code for s in exported.get_finished_spans()}
    assert status["case.assess_case"] is StatusCode.ERROR and status["case.assess_risk"] is StatusCode.ERROR
    assert status["case.assess_policy"] is StatusCode.UNSET
