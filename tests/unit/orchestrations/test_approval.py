"""approval_tier driven through the SDK's real replay: decisions raced against the deadline timer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from orchestrations.approval import approval_tier_orchestrator
from shared.approvals import DECISION_EVENT
from tests.unit.orchestrations.orch_fixtures import decision, settle, tier_activities
from tests.unit.orchestrations.orch_sim import Sim

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def gate(required: int = 1, roles=("approver",), requester: str = "alice", prior=()) -> dict:
    return {
        "case_instance_id": "case-1",
        "tier": 0,
        "requester": requester,
        "roles": list(roles),
        "rule": "single" if required == 1 else "quorum",
        "required": required,
        "expires_at": (START + timedelta(hours=24)).isoformat(),
        "evidence_hash": "sha256:abc",
        "prior": list(prior),
    }


def tier(g: dict) -> Sim:
    sim = Sim(approval_tier_orchestrator, "case-1-approval-0", g, activities=tier_activities(), start=START)
    sim.begin()
    return sim


def test_one_allowed_approval_approves():
    """A single approver with the role approves; the timer is cancelled."""
    g = gate()
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.run()
    assert sim.output["outcome"] == "approved"
    assert [d["approver"] for d in sim.output["accepted"]] == ["bob"]
    timers = [a for a in sim.state["actions"][0] if a.get("actionType") == 11]
    assert timers and timers[0]["compoundActions"][1]["isCanceled"] is True


def test_two_decisions_raised_together_are_each_counted_once():
    """Two approvals in one episode reach a 2-of-N quorum; neither is lost nor delivered twice."""
    g = gate(required=2, roles=("approver", "admin"))
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.raise_event(DECISION_EVENT, decision("carol", ["admin"], g))
    settle(sim)
    assert sim.done
    assert sim.output["outcome"] == "approved"
    assert [d["approver"] for d in sim.output["accepted"]] == ["bob", "carol"]
    assert sim.output["refused"] == []


def test_three_decisions_together_with_a_duplicate_are_delivered_in_order():
    """bob, bob, carol in one episode: the repeat is refused once, carol completes the quorum."""
    g = gate(required=2)
    sim = tier(g)
    for who in ("bob", "bob", "carol"):
        sim.raise_event(DECISION_EVENT, decision(who, ["approver"], g))
    settle(sim)
    assert sim.output["outcome"] == "approved"
    assert [r["reason"] for r in sim.output["refused"]] == ["bob has already decided this case"]


def test_self_approval_and_missing_role_are_refused_and_the_wait_goes_on():
    """The requester and a user without the role are refused (recorded); the wait continues."""
    g = gate()
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("alice", ["approver"], g))
    settle(sim)
    sim.raise_event(DECISION_EVENT, decision("eve", ["viewer"], g))
    settle(sim)
    assert not sim.done
    assert sim.custom_status["refused"] == 2
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.run()
    assert sim.output["outcome"] == "approved"
    reasons = [r["reason"] for r in sim.output["refused"]]
    assert "separation of duties" in reasons[0]
    assert "none of the roles" in reasons[1]


def test_decision_on_other_evidence_is_refused():
    """A decision sealed with another evidence hash does not count."""
    g = gate()
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g, evidence_hash="sha256:other"))
    settle(sim)
    assert not sim.done
    assert sim.custom_status["refused"] == 1
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.run()
    assert "different evidence" in sim.output["refused"][0]["reason"]
    assert sim.output["outcome"] == "approved"


def test_python_client_double_encoded_payload_is_accepted():
    """The Python client's raise_event delivers the decision as a JSON string
    (docs/durable-extension-protocol.md#external-events); it still counts."""
    g = gate()
    sim = tier(g)
    sim.raise_event_text(DECISION_EVENT, json.dumps(json.dumps(decision("bob", ["approver"], g))))
    sim.run()
    assert sim.output["outcome"] == "approved"


def test_reject_from_an_allowed_approver_rejects_at_once():
    """One accepted reject ends the tier as rejected even when a quorum is required."""
    g = gate(required=2)
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g, verdict="reject"))
    sim.run()
    assert sim.output["outcome"] == "rejected"


def test_timer_wins_without_decision():
    """No decision before the deadline: the tier expires when its timer fires (at expires_at)."""
    g = gate()
    sim = tier(g).run()
    assert sim.output["outcome"] == "expired"
    fired = [e for e in sim.history if e["EventType"] == 11]
    assert fired and fired[0]["FireAt"].startswith("2026-01-06T09:00:00")


def test_prior_approvals_count_toward_the_quorum():
    """An approval carried over from the previous tier plus one new one meets required=2."""
    g0 = gate(required=2)
    carried = decision("bob", ["approver"], g0)
    g = gate(required=2, roles=("admin",), prior=[carried])
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("dave", ["admin"], g))
    sim.run()
    assert sim.output["outcome"] == "approved"
    assert [d["approver"] for d in sim.output["accepted"]] == ["bob", "dave"]


def _naive(context: df.DurableOrchestrationContext):
    """The shape the design avoids: an activity between two waits for the same event name."""
    seen = []
    for _ in range(3):
        d = yield context.wait_for_external_event(DECISION_EVENT)
        seen.append(d["approver"])
        yield context.call_activity("record", d)
    return seen


def test_sdk_quirk_that_the_design_avoids():
    """SDK 1.7.0: a decision raised while an activity runs is handed to every later wait
    (docs/durable-extension-protocol.md#external-events).

    This pins the quirk the approval design is shaped around: if it ever stops reproducing, the note in
    docs/durable-extension-protocol.md#external-events can be revisited.
    """
    g = gate()
    sim = Sim(_naive, "naive", None, activities={"record": lambda d: None}, start=START)
    sim.begin()
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.step()  # bob resolves wait 1, record(bob) scheduled
    sim.raise_event(DECISION_EVENT, decision("carol", ["approver"], g))
    sim.step()  # carol arrives while record runs: buffered
    sim.run()
    assert sim.output == ["bob", "carol", "carol"], "carol's one decision was delivered to two waits"
    # With the race-only loop of approval_tier the same sequence is exact:
    sim2 = tier(gate(required=2))
    g2 = gate(required=2)
    sim2.raise_event(DECISION_EVENT, decision("bob", ["approver"], g2))
    settle(sim2)
    sim2.raise_event(DECISION_EVENT, decision("carol", ["approver"], g2))
    sim2.run()
    assert [d["approver"] for d in sim2.output["accepted"]] == ["bob", "carol"]


def test_forged_unsigned_decision_is_refused():
    """A decision raised around the app (no seal) never counts, whatever approver and roles it names."""
    g = gate()
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g, signed=False))
    settle(sim)
    assert not sim.done and sim.custom_status["refused"] == 1
    forged = decision("bob", ["approver"], g)
    forged["approver"] = "mallory"  # altered after sealing
    sim.raise_event(DECISION_EVENT, forged)
    settle(sim)
    assert not sim.done and sim.custom_status["refused"] == 2
    shown = sim.custom_status["decisions"]
    assert [d["status"] for d in shown] == ["refused", "refused"] and "no seal" in shown[0]["reason"]
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g, nonce="bob-1"))
    sim.run()
    reasons = [r["reason"] for r in sim.output["refused"]]
    assert "no seal" in reasons[0] and "does not match" in reasons[1]
    assert sim.output["outcome"] == "approved"
    assert sim.custom_status["decisions"][-1] == {
        "decisionId": "bob-1", "approver": "bob", "decision": "approve", "status": "counted", "reason": None
    }


def test_replayed_decision_is_refused():
    """The same sealed decision handed in twice counts once; one sealed for another tier never counts."""
    g = gate(required=2)
    sim = tier(g)
    bob = decision("bob", ["approver"], g, nonce="same")
    sim.raise_event(DECISION_EVENT, bob)
    sim.raise_event(DECISION_EVENT, bob)
    other_tier = decision("carol", ["approver"], {**g, "tier": 1})
    sim.raise_event(DECISION_EVENT, other_tier)
    settle(sim)
    assert not sim.done
    sim.raise_event(DECISION_EVENT, decision("carol", ["approver"], g))
    sim.run()
    reasons = [r["reason"] for r in sim.output["refused"]]
    assert any("replayed" in r and "nonce" in r for r in reasons)
    assert any("another case, approval instance or tier" in r for r in reasons)
    assert [d["approver"] for d in sim.output["accepted"]] == ["bob", "carol"]


def test_one_timer_per_tier_whatever_the_refusals():
    """50 refused decisions: the tier still has exactly one CreateTimer."""
    g = gate()
    sim = tier(g)
    for i in range(50):
        sim.raise_event(DECISION_EVENT, decision(f"eve{i}", ["viewer"], g))
        settle(sim)
    timers = [e for e in sim.history if e["EventType"] == 10]
    assert len(timers) == 1
    assert sim.custom_status["refused"] == 50


def test_decision_in_flight_when_the_timer_fires_is_refused_not_lost():
    """A decision still being verified when the deadline fires is recorded as refused (late)."""
    g = gate()
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.step()  # the decision arrives; its verification is scheduled but not yet run
    sim.pending.clear()  # the verification is still running when the timer fires
    sim.run()
    assert sim.output["outcome"] == "expired"
    assert sim.output["refused"] and "expired" in sim.output["refused"][0]["reason"]


def test_decisions_arriving_while_one_is_verified_are_each_counted_once():
    """bob raised, carol raised while bob's verification runs: both counted, neither twice."""
    g = gate(required=2)
    sim = tier(g)
    sim.raise_event(DECISION_EVENT, decision("bob", ["approver"], g))
    sim.step()
    sim.raise_event(DECISION_EVENT, decision("carol", ["approver"], g))
    sim.run()
    assert sim.output["outcome"] == "approved"
    assert [d["approver"] for d in sim.output["accepted"]] == ["bob", "carol"]
    assert sim.output["refused"] == []


def test_from_version_6_the_output_is_brief_and_the_case_restores_it():
    """A tier of orchestration version 6.0 returns the decisions it accepted without what its case gave it
    (evidence hash, case and approval instance ids, tier) and hands ``verify_decision`` the decision as an
    object; ``full_outcome`` restores the very outcome an older tier returns whole. A decision carried over
    from an earlier tier stays whole."""
    from orchestrations import versions
    from shared.approvals import full_outcome
    from shared.contracts.case import ApprovalGate

    carried = decision("carol", ["admin"], {**gate(), "tier": 0})
    carried_json = json.loads(json.dumps(carried))
    outputs, verified = {}, {}
    g = {**gate(required=2, prior=[carried_json]), "tier": 1}
    raised = json.dumps(decision("bob", ["approver"], g))  # the Python client's double-encoded text
    for version in ("5.0", versions.CURRENT):
        sim = Sim(approval_tier_orchestrator, "case-1-approval-1", g, activities=tier_activities(),
                  start=START, version=version)
        sim.begin()
        sim.raise_event(DECISION_EVENT, raised)
        sim.run()
        outputs[version] = sim.output
        verified[version] = [p["decision"] for name, p in sim.calls if name == "verify_decision"]
    whole, brief = outputs["5.0"], outputs[versions.CURRENT]
    assert whole["outcome"] == brief["outcome"] == "approved"
    assert [set(d) >= {"evidence_hash", "tier"} for d in whole["accepted"]] == [True, True]
    bound = {"evidence_hash", "case_instance_id", "approval_instance_id", "tier"}
    assert bound <= set(brief["accepted"][0]) and not bound & set(brief["accepted"][1])
    assert isinstance(verified["5.0"][0], str) and isinstance(verified[versions.CURRENT][0], dict)
    typed = ApprovalGate.model_validate(g)
    assert full_outcome(brief, typed, "case-1-approval-1") == full_outcome(whole, typed, "case-1-approval-1")
    assert len(json.dumps(brief)) < len(json.dumps(whole))
