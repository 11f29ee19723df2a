"""Orchestration versions (``orchestrations/versions.py``): host.json stamps the current one; instances
started before versioning (``""``) keep scheduling what their histories recorded."""

from __future__ import annotations

import json

import pytest

from orchestrations import names, versions
from tests.e2e.case_harness import REPO
from tests.unit.orchestrations.orch_fixtures import Approvals, Effects, case_sim, decision, event


def test_host_json_stamps_the_current_version_and_accepts_older_ones():
    durable = json.loads((REPO / "host.json").read_text())["extensions"]["durableTask"]
    assert durable["defaultVersion"] == versions.CURRENT
    assert durable.get("versionMatchStrategy", "CurrentOrOlder") == "CurrentOrOlder"


def test_major_version_of_an_instance():
    assert versions.major("") == 1 and versions.major(None) == 1
    assert versions.major(versions.CURRENT) == 8
    with pytest.raises(ValueError):
        versions.major("99.0")


def _timeless(value):
    """``value`` without its ``at`` times (the simulated clock moves one second per episode, and the
    versions run different numbers of episodes)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "at"}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def test_each_version_schedules_what_its_histories_recorded():
    """Same audit records (ids, kinds, content) in the same order, same outcome, whatever the version;
    version 1 flushes them through ``record_audit``, 2.0 in the steps, 3.0 also loads the policy in
    ``classify_case``, 4.0 has ``decide_policy`` append the records up to ``classified``, 5.0 schedules as
    4.0 with lean inputs, 6.0 as 5.0 (its approval tiers' outputs are brief), 7.0 runs the three
    specialists in one ``assess_case``, 8.0 as 7.0 with the ``ready_to_apply`` record appended by
    ``decide_policy``."""
    runs, calls = {}, {}
    for version in ("", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", versions.CURRENT):
        effects = Effects()
        sim = case_sim(event("order.cancel", amount=20), effects, version=version)
        sim.run()
        assert sim.output["status"] == "completed"
        assert sim.custom_status["policyVersion"] == "2026-12-07.1"
        # the Durable HTTP API does not report the version: the custom status names it (replay gate)
        assert sim.custom_status["orchestrationVersion"] == version
        runs[version] = (sim.activity_names(), [_timeless(r) for r in effects.audited])
        calls[version] = sim.calls
    (v1, audit1), (v2, audit2), (v3, audit3) = runs[""], runs["2.0"], runs["3.0"]
    (v4, audit4), (v5, audit5), (v6, audit6) = runs["4.0"], runs["5.0"], runs["6.0"]
    v7, audit7 = runs["7.0"]
    v8, audit8 = runs[versions.CURRENT]
    assert v1[0] == v2[0] == names.LOAD_POLICY and v3[0] == names.CLASSIFY_CASE
    assert names.RECORD_AUDIT in v1 and names.RECORD_AUDIT not in v2
    assert [n for n in v1 if n != names.RECORD_AUDIT] == v2 == [names.LOAD_POLICY, *v3]
    assert v6 == v5 == v4 == v3 and audit1 == audit2 == audit3 == audit4 == audit5 == audit6 and audit1
    assert v6[1:4] == list(names.SPECIALIST_ACTIVITIES.values())
    assert v7 == [names.CLASSIFY_CASE, names.ASSESS_CASE, *v6[4:]] and audit7 == audit6
    assert v8 == v7 and audit8 == audit7
    # 8.0: the auto case's apply_action appends nothing before its effect; decide_policy appended the stage
    riding = {v: [p.get("audit") for n, p in calls[v] if n == names.APPLY_ACTION] for v in ("7.0", "8.0")}
    assert riding["7.0"] == [[{"record_id": ":003:stage", "kind": "stage", "at": riding["7.0"][0][0]["at"],
                               "data": {"stage": "ready_to_apply", "approval": "not required"}}]]
    assert riding["8.0"] == [[]] or riding["8.0"] == [None]
    decided = [p for n, p in calls["8.0"] if n == names.DECIDE_POLICY]
    assert decided[0]["ready"]["record_id"] == ":003:stage"
    assert [r["record_id"].split(":", 1)[1] for r in audit8][:3] == ["001:stage", "002:stage", "003:stage"]


def _approvals(verdict: str) -> Approvals:
    """Scripted approvers; fixed nonces, so every version's run is given the same decisions."""
    if verdict == "quorum":
        return Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate, nonce="bob"),
                                              decision("dave", ["admin"], gate, nonce="dave")]])
    if verdict == "expired":
        return Approvals(lambda tier, gate: [])
    return Approvals(
        lambda tier, gate: [[decision("bob", ["approver"], gate, verdict, nonce="bob")]] if tier == 0 else []
    )


def _untimed(value):
    """``value`` without its times (``at``, ``expires_at``, …: the simulated clock moves one second per
    episode, and the versions run different numbers of episodes)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in _TIMES}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


_TIMES = {"at", "expires_at", "requested_at", "remind_at", "decided_at"}


@pytest.mark.parametrize(
    ("event_type", "attributes", "verdict", "status"),
    [
        ("account.change", {}, "approve", "completed"),
        ("account.change", {}, "reject", "rejected"),
        ("account.change", {}, "expired", "expired"),
        ("payment.release", {"amount": 50000}, "quorum", "completed"),
        ("github.deployment.created", {"environment": "production",
                                       "deployment_statuses_url": "https://api.github.test/s"}, "reject",
         "rejected"),
    ],
)
def test_an_approval_case_records_the_same_trail_in_every_version(event_type, attributes, verdict, status):
    """Approved, rejected (also through a tool that reports outcomes), expired and quorum cases: the same
    audit records with the same content in every version, though version 5.0 sends ``apply_action`` the
    decision's terms and the approver's decision rides by reference (``data_from``), and 7.0 runs the
    specialists in one ``assess_case``."""
    trails = {}
    for version in ("", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", versions.CURRENT):
        effects, approvals = Effects(), _approvals(verdict)
        sim = case_sim(event(event_type, **attributes), effects, approvals, version=version).run()
        # the tiers are new (host.json's version): brief outputs, which every case version reads
        assert all("evidence_hash" not in d for t in approvals.tiers for d in t.output["accepted"])
        assert sim.output["status"] == status, (version, sim.output)
        trails[version] = [_untimed(r) for r in effects.audited]
        if versions.major(version) >= versions.LEAN_INPUTS:
            applied = [p for name, p in sim.calls if name == names.APPLY_ACTION]
            assert all("terms" in p and "decision" not in p and p["event"]["data"] == {} for p in applied)
            riding = [r for name, p in sim.calls for r in p.get("audit") or []]
            assert riding and all(r["record_id"].startswith(":") for r in riding)
            if applied and verdict != "expired":
                assert any(r.get("data_from") == "approval.accepted.0" for r in applied[0]["audit"])
        specialists = [n for n in sim.activity_names() if n in names.SPECIALIST_ACTIVITIES.values()]
        one = [n for n in sim.activity_names() if n == names.ASSESS_CASE]
        if versions.major(version) >= versions.ONE_ASSESSMENT:
            assert one == [names.ASSESS_CASE] and specialists == []
        else:
            assert one == [] and specialists == list(names.SPECIALIST_ACTIVITIES.values())
    first = trails[""]
    assert first and all(trail == first for trail in trails.values())
    assert any(r["kind"] == "decision" for r in first) != (verdict == "expired")
