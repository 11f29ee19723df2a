"""case_workflow driven through the SDK's real replay with built histories (orch_sim.py)."""

from __future__ import annotations

import json

import pytest

from orchestrations import names, versions
from tests.unit.orchestrations.orch_fixtures import Approvals, Effects, case_sim, decision, event


def stages(sim) -> list[str]:
    return [entry["stage"] for entry in sim.custom_status["timeline"]]


def test_low_risk_event_completes_without_approval():
    """An order.cancel (write) runs classify → specialists → decide → apply and completes automatically."""
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects).run()
    assert sim.output["status"] == "completed"
    assert stages(sim) == ["received", "classified", "ready_to_apply", "completed"]
    assert [a["mode"] for a in effects.applied] == ["auto"]
    assert sim.activity_names() == [  # the policy is loaded by classify (orchestration version 3.0)
        names.CLASSIFY_CASE,
        names.ASSESS_CASE,  # the three specialists in one activity (orchestration version 7.0)
        names.DECIDE_POLICY,
        names.APPLY_ACTION,
        names.NOTIFY,
    ]
    assert sim.custom_status["policyVersion"] == "2026-12-07.1"
    assert sim.custom_status["outcome"]["status"] == "completed"


def test_specialists_are_fanned_out_in_one_episode():
    """Instances older than orchestration version 7.0: the three specialist activities are scheduled
    together (one WhenAll), not one after another."""
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects, version="6.0")
    sim.begin()
    sim.step()  # classify
    scheduled = [e["Name"] for e in sim.history if e["EventType"] == 4]
    assert scheduled[-3:] == [names.ASSESS_POLICY, names.ASSESS_RISK, names.ASSESS_REQUESTER_HISTORY]


def test_specialists_run_in_one_activity_in_order():
    """From orchestration version 7.0 one ``assess_case`` carries the three specialists in order (event,
    classification and policy reference once) and returns their results in that order."""
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects)
    sim.begin()
    sim.step()  # classify
    scheduled = [e for e in sim.history if e["EventType"] == 4]
    assert [e["Name"] for e in scheduled] == [names.CLASSIFY_CASE, names.ASSESS_CASE]
    sim.run()
    (payload,) = [p for name, p in sim.calls if name == names.ASSESS_CASE]
    assert [s["specialist"] for s in payload["specialists"]] == list(names.SPECIALIST_ACTIVITIES)
    assert {"event", "classification", "policy_ref"} <= set(payload)
    stages_ = [r for r in effects.audited if r["kind"] == "stage"]
    classified = next(r for r in stages_ if r["data"]["stage"] == "classified")
    inputs = classified["data"]["merge"]["inputs"]
    assert sorted(a["specialist"] for a in inputs) == sorted(names.SPECIALIST_ACTIVITIES)
    steps = [r["step"] for r in classified["data"]["judgment"]["records"]]
    assert steps == ["classify", *names.SPECIALIST_ACTIVITIES]


def test_audit_records_have_deterministic_ids_and_cover_every_stage():
    """Audit record ids are numbered by the orchestrator; every stage change is recorded."""
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects).run()
    ids = [r["record_id"] for r in effects.audited]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert all(i.startswith(sim.instance_id + ":") for i in ids)
    stage_records = [r["data"]["stage"] for r in effects.audited if r["kind"] == "stage"]
    assert stage_records == ["received", "classified", "ready_to_apply", "completed"]
    classified = next(
        r for r in effects.audited if r["kind"] == "stage" and r["data"]["stage"] == "classified"
    )
    assert classified["data"]["merge"]["inputs"], "the merge's inputs are recorded (provenance)"


def test_privileged_event_waits_for_approval_then_applies_once():
    """account.change needs one approver; after approval it applies exactly once with mode approved."""
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate)]])
    sim = case_sim(event("account.change", requester="alice"), effects, approvals).run()
    assert sim.output["status"] == "completed"
    assert sim.output["approvers"] == ["bob"]
    assert stages(sim) == ["received", "classified", "awaiting_approval", "ready_to_apply", "completed"]
    assert len(effects.applied) == 1 and effects.applied[0]["mode"] == "approved"
    assert [n["kind"] for n in effects.notified] == ["approval_requested", "case_completed"]
    kinds = [r["kind"] for r in effects.audited]
    assert "decision" in kinds and "side_effect" in kinds


def test_pending_approval_is_published_with_its_tier_instance():
    """While waiting, the custom status shows the pending request and the tier's instance id."""
    effects = Effects()
    captured = {}

    def script(tier, gate):
        return []

    approvals = Approvals(script)
    sim = case_sim(event("account.change"), effects, approvals)
    sim.begin()
    while not any(w.kind == "sub" for w in sim.pending):
        sim.step()
    captured = sim.custom_status
    assert captured["stage"] == "awaiting_approval"
    assert captured["approvalInstanceId"] == names.approval_instance_id(sim.instance_id, 0)
    pending = captured["pendingApproval"]
    assert pending["roles"] == ["approver"] and pending["required"] == 1
    assert pending["evidence_hash"].startswith("sha256:")
    assert pending["pack"]["rollback_hint"] and pending["pack"]["estimated_impact"]


def test_rejection_takes_the_fallback_and_never_applies():
    """A reject ends the case as rejected; the requester is told why; nothing is applied."""
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate, verdict="reject")]])
    sim = case_sim(event("account.change"), effects, approvals).run()
    assert sim.output["status"] == "rejected"
    assert "rejected by bob" in sim.output["reason"]
    assert effects.applied == []
    assert effects.notified[-1]["kind"] == "case_rejected"
    assert stages(sim)[-1] == "rejected"


def test_deployment_rejection_reports_failure_through_the_tool():
    """A rejected production deployment reports its outcome through the GitHub tool (mode rejected)."""
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate, verdict="reject")]])
    ev = event(
        "github.deployment.created",
        requester="octocat",
        environment="production",
        deployment_statuses_url="https://api.github.com/repos/o/r/deployments/1/statuses",
    )
    sim = case_sim(ev, effects, approvals).run()
    assert sim.output["status"] == "rejected"
    assert [a["mode"] for a in effects.applied] == ["rejected"]


def test_no_decision_escalates_then_expires():
    """Tier 0 (approver) times out, tier 1 (admin) times out: the case expires after both."""
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [])
    sim = case_sim(event("account.change"), effects, approvals).run()
    assert sim.output["status"] == "expired"
    assert [t.input["roles"] for t in approvals.tiers] == [["approver"], ["admin"]]
    assert [n["kind"] for n in effects.notified] == [
        "approval_requested",
        "approval_escalated",
        "case_expired",
    ]
    assert effects.applied == []


def test_escalated_tier_accepts_admin():
    """After tier 0 expires, an admin's approval in tier 1 completes the case."""
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [[decision("carol", ["admin"], gate)]] if tier == 1 else [])
    sim = case_sim(event("account.change"), effects, approvals).run()
    assert sim.output["status"] == "completed" and sim.output["approvers"] == ["carol"]


def test_quorum_needs_two_distinct_approvers():
    """A large payment (irreversible) completes only after two different approvers approve."""
    effects = Effects()

    def script(tier, gate):
        return [
            [decision("bob", ["approver"], gate), decision("bob", ["approver"], gate)],
            [decision("dave", ["admin"], gate)],
        ]

    approvals = Approvals(script)
    sim = case_sim(event("payment.release", amount=25000, currency="EUR"), effects, approvals).run()
    assert sim.output["status"] == "completed"
    assert sim.output["approvers"] == ["bob", "dave"]
    tier = approvals.tiers[0].output
    assert [r["reason"] for r in tier["refused"]] == ["bob has already decided this case"]


def test_unexpected_activity_failure_fails_the_instance_after_the_business_retries():
    """A bug in apply_action (RuntimeError on every attempt; policy retry: 3 attempts) fails the *instance*
    (visible to monitoring and rewind), after recording stage failed and telling the requester."""
    effects = Effects()
    effects.fail_apply = 10
    sim = case_sim(event("order.cancel"), effects).run()
    assert sim.done and "downstream unavailable" in sim.state["error"]
    assert sim.output is None
    assert sim.activity_names().count(names.APPLY_ACTION) == 3
    assert stages(sim)[-1] == "failed"
    assert "downstream unavailable" in sim.custom_status["outcome"]["reason"]
    assert effects.notified[-1]["kind"] == "case_failed"


def test_refused_side_effect_is_a_business_outcome_never_retried():
    """apply_action returning a refusal (a 4xx downstream, a refused plan) completes the case as failed
    with the reason; it is not retried and the instance completes normally."""
    effects = Effects()
    effects.refuse_apply = "PermanentAdapterError: webhook: receiver refused with 422"
    sim = case_sim(event("order.cancel"), effects).run()
    assert "error" not in sim.state
    assert sim.output["status"] == "failed"
    assert sim.output["reason"].startswith("refused: PermanentAdapterError")
    assert sim.activity_names().count(names.APPLY_ACTION) == 1
    assert stages(sim)[-1] == "failed"


def test_storage_outage_stalls_the_case_and_it_resumes_by_itself():
    """A transient infrastructure failure (StorageUnavailable) outlasting the business attempts shows stage
    ``stalled`` with the step and reason, backs off exponentially, and resumes to complete once storage is
    back: one effect, no failure."""
    from shared.storage import StorageUnavailable

    effects = Effects()
    effects.fail_apply = 7
    effects.apply_error = lambda: StorageUnavailable("apply_action", ConnectionRefusedError("refused"))
    sim = case_sim(event("order.cancel"), effects)
    seen: list[dict] = []
    effects.on_apply = lambda: seen.append(sim.custom_status or {})
    sim.run()
    assert "error" not in sim.state
    assert sim.output["status"] == "completed"
    assert len(effects.applied) == 1
    assert sim.activity_names().count(names.APPLY_ACTION) == 8
    stalled = [s for s in seen if s.get("stage") == "stalled"]
    assert stalled and stalled[-1]["stalled"]["step"] == names.APPLY_ACTION
    assert "StorageUnavailable" in stalled[-1]["stalled"]["reason"]
    assert "stalled" in stages(sim) and stages(sim)[-2:] == ["ready_to_apply", "completed"]
    assert "stalled" not in sim.custom_status
    # backoff on the orchestration clock: 5, 10, 20, 40, 80, 160, 300 s (capped)
    timers = [e for e in sim.history if e["EventType"] == 10]
    delays = [round((parse_fire_at_ts(t["FireAt"]) - parse_fire_at_ts(t["Timestamp"])).total_seconds())
              for t in timers]
    assert delays == [5, 10, 20, 40, 80, 160, 300]


def test_infrastructure_budget_spent_fails_the_instance():
    """Storage down past ``infra_budget_s`` (3600 s by default): the instance fails (rewindable) with the
    storage error, never as a business outcome."""
    from shared.storage import StorageUnavailable

    effects = Effects()
    effects.fail_apply = 1000
    effects.apply_error = lambda: StorageUnavailable("apply_action", ConnectionRefusedError("refused"))
    sim = case_sim(event("order.cancel"), effects).run()
    assert "StorageUnavailable" in sim.state["error"]
    assert effects.applied == []
    assert 10 < sim.activity_names().count(names.APPLY_ACTION) < 40


def parse_fire_at_ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("0Z", "+00:00") if text.endswith("0Z") else text)


def test_transient_failure_is_retried_and_completes():
    """One failed apply attempt is retried per the policy and the case completes."""
    effects = Effects()
    effects.fail_apply = 1
    sim = case_sim(event("order.cancel"), effects).run()
    assert sim.output["status"] == "completed"
    assert sim.activity_names().count(names.APPLY_ACTION) == 2


@pytest.mark.parametrize(("version", "limit"), [("6.0", 5), (versions.CURRENT, 3)])
def test_activity_budget_stops_the_case(tmp_path, monkeypatch, version, limit):
    """A policy with max_activities just enough for classify, the specialists and decide stops the case
    before applying, with the budget named: 5 before orchestration version 7.0 (three specialist
    activities), 3 from 7.0 (one ``assess_case``)."""
    import yaml

    from shared.policy import DEFAULT_POLICY_PATH

    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    doc["defaults"]["budgets"]["max_activities"] = limit
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv("CASE_POLICY_PATH", str(path))
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects, version=version).run()
    assert names.DECIDE_POLICY in sim.activity_names()
    assert sim.output["status"] == "failed"
    assert f"max_activities={limit} exhausted before {names.APPLY_ACTION}" in sim.output["reason"]
    assert effects.applied == []
    assert effects.notified[-1]["kind"] == "case_failed", "the stopped case is still reported"


def test_decision_raised_at_the_case_while_an_activity_runs_is_ignored():
    """An ApprovalDecision raised on the case instance itself (not its tier) never counts as a decision."""
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate, verdict="reject")]])
    sim = case_sim(event("account.change"), effects, approvals)
    sim.begin()
    sim.raise_event("ApprovalDecision", {"decision": "approve", "approver": "mallory", "roles": ["approver"]})
    sim.run()
    assert sim.output["status"] == "rejected"
    assert effects.applied == []


def test_runtime_budget_caps_the_approval_wait_and_stops_the_case(tmp_path, monkeypatch):
    """max_runtime_s=3600: tier 0's deadline is capped at the budget, then the case stops as failed."""
    import yaml

    from shared.policy import DEFAULT_POLICY_PATH

    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    doc["defaults"]["budgets"]["max_runtime_s"] = 3600
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("CASE_POLICY_PATH", str(path))
    effects = Effects()
    approvals = Approvals(lambda tier, gate: [])
    sim = case_sim(event("account.change"), effects, approvals).run()
    assert sim.output["status"] == "failed"
    assert "max_runtime_s=3600" in sim.output["reason"]
    from datetime import datetime, timedelta

    expires = datetime.fromisoformat(approvals.tiers[0].input["expires_at"])
    received = datetime.fromisoformat(sim.custom_status["timeline"][0]["at"].replace("Z", "+00:00"))
    assert expires == received + timedelta(seconds=3600), "the tier deadline is capped at the budget"
    assert len(approvals.tiers) == 1


def test_assessments_in_another_order_than_asked_fail_the_instance():
    """``assess_case`` results are read by place: a result naming another specialist than the one asked
    there (a history recorded under another order) fails the instance instead of being read as this one."""
    effects = Effects()
    sim = case_sim(event("order.cancel"), effects)
    real = effects.table()[names.ASSESS_CASE]
    sim.activities[names.ASSESS_CASE] = lambda payload: {"assessed": real(payload)["assessed"][::-1]}
    sim.run()
    assert "error" in sim.state and "'requester_history' where 'policy' was asked" in sim.state["error"]
    assert effects.applied == []


def test_a_ready_record_reported_for_a_case_needing_approval_fails_the_case_and_applies_nothing():
    """From orchestration version 8.0 ``decide_policy`` appends ``ready_to_apply`` only for a decision that
    needs no approval; one that says it did for a privileged case is a bug: the case fails, nothing is
    applied and nobody is asked to approve a case whose trail says it is ready."""

    class LyingDecide(Effects):
        def decide_policy(self, payload):
            out = super().decide_policy(payload)
            return {**out, "ready_recorded": f"{payload['case_instance_id']}:003:stage"}

    effects = LyingDecide()
    sim = case_sim(event("account.change"), effects).run()
    assert sim.done and "(an approval needed)" in sim.state["error"]
    assert effects.applied == [] and stages(sim)[-1] == "failed"
    assert [n["kind"] for n in effects.notified] == ["case_failed"]


class _DecideAppendsThenFails(Effects):
    """``decide_policy`` whose first ``times`` attempts append their records and then fail with a storage
    error (the append went through, the completion did not): the retries and the stall take record ids."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.decide_failures = times

    def decide_policy(self, payload):
        from shared.storage import StorageUnavailable

        out = super().decide_policy(payload)
        if self.decide_failures:
            self.decide_failures -= 1
            raise StorageUnavailable("decide_policy", ConnectionResetError("reset after the append"))
        return out


@pytest.mark.parametrize(("event_type", "next_stage"), [("order.cancel", "ready_to_apply"),
                                                         ("account.change", "awaiting_approval")])
def test_decide_retried_through_a_stall_keeps_every_audit_record_id_unique(event_type, next_stage):
    """From orchestration version 8.0 ``decide_policy`` may append the ``ready_to_apply`` record under an
    id the case reserved for the stage after ``classified``; the stall records of its retries take later
    ids, so no record id names two records (an append is idempotent per id: a second record under an id
    would be lost), and a case that needs an approval enters ``awaiting_approval`` under the reserved id."""
    effects = _DecideAppendsThenFails(times=4)
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate)]])
    sim = case_sim(event(event_type), effects, approvals if next_stage == "awaiting_approval" else None).run()
    assert "error" not in sim.state and sim.output["status"] == "completed"
    ids = [r["record_id"] for r in effects.audited]
    assert len(ids) == len(set(ids)), ids
    kinds = {r["record_id"].split(":", 1)[1]: r["data"].get("stage") for r in effects.audited}
    assert kinds["003:stage"] == next_stage
    assert "stalled" in kinds.values()
    assert [r["data"].get("stage") for r in effects.audited].count("ready_to_apply") == 1
