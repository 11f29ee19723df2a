"""Shared pieces of the orchestrator tests: events, the real judgment activities, fake effect activities.

Judgment and policy activities run their real code (pure, no storage); ``record_audit``, ``notify`` and
``apply_action`` are fakes that record what they were asked, except that ``apply_action`` still runs the
real policy check (``shared.apply_plan.plan_action``) so a forbidden apply fails the test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import activities.case_steps as steps
from activities.decisions import verdict as verdict_of
from orchestrations import names, versions
from orchestrations.approval import approval_tier_orchestrator
from shared import decision_seal
from shared.apply_plan import plan_action
from shared.approvals import DECISION_EVENT
from shared.contracts.effects import ApplyInput
from shared.contracts.event import BusinessEvent, case_instance_id
from shared.contracts.steps import AuditRecordIn
from shared.judgment_budget import expand_judgment_audit
from tests.fixtures.functions import user_fn
from tests.unit.orchestrations.orch_sim import Sim


def event(type_: str, requester: str = "alice", **attributes: Any) -> dict[str, Any]:
    """A BusinessEvent as the orchestrator input (JSON)."""
    return BusinessEvent(
        event_id=f"evt-{type_}-{requester}",
        source="tests",
        type=type_,
        subject="order-42",
        requester=requester,
        occurred_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        format="plain",
        channel="http",
        attributes=attributes,
        data={},
    ).model_dump(mode="json")


class Effects:
    """Fake effect activities; ``applied`` keeps every apply request that passed the policy check."""

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []
        self.notified: list[dict[str, Any]] = []
        self.audited: list[dict[str, Any]] = []
        self.fail_apply = 0
        #: What a failing apply raises (default: a bug-like RuntimeError).
        self.apply_error: Callable[[], Exception] = lambda: RuntimeError("downstream unavailable")
        #: When set, apply returns a refusal (a business outcome) instead of acting.
        self.refuse_apply: str | None = None
        #: Called at every apply attempt (tests read the orchestrator's custom status through it).
        self.on_apply: Callable[[], None] | None = None

    def apply_action(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._audit_from(payload)
        if self.on_apply is not None:
            self.on_apply()
        if self.fail_apply:
            self.fail_apply -= 1
            raise self.apply_error()
        if self.refuse_apply:
            return {"key": None, "status": "refused", "replayed": False, "attempts": 0, "result": None,
                    "reason": self.refuse_apply}
        inp = ApplyInput.model_validate(payload)  # the decision whole (before 5.0) or its terms
        decision = inp.acting
        request = plan_action(inp.case_instance_id, inp.event, decision, inp.mode, inp.approval)
        self.applied.append(payload)
        return {
            "key": f"{payload['case_instance_id']}:{decision.action}",
            "status": "applied",
            "replayed": False,
            "attempts": 1,
            "result": {"tool": request.tool, "outcome": request.outcome},
        }

    def _audit_from(self, payload: dict[str, Any]) -> None:
        """The records riding in a step's input (``audit``, version 2), appended before the step's body
        like ``@case_step`` does (once per record id: a retried step carries them again)."""
        known = {r["record_id"] for r in self.audited}
        records = [AuditRecordIn.model_validate(r) for r in payload.get("audit") or []]
        riding = [r.filled(payload).to_json() for r in records]
        self.audited.extend(r for r in riding if r["record_id"] not in known)

    def decide_policy(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The real ``decide_policy`` on the input without its audit part; what it would append (the riding
        records, then the completed ``classified`` record: version 4.0, then the ``ready`` record when the
        decision needs no approval: 8.0) goes to ``audited``."""
        record = payload.get("record")
        if record is not None:  # its id relative to the case (version 5.0)
            record = AuditRecordIn.model_validate(record).filled(payload).to_json()
        core = {k: v for k, v in payload.items() if k not in ("audit", "record", "ready")}
        out = user_fn(steps.decide_policy)(core)
        self._audit_from(payload)
        if record is None:
            return out
        data = {**record["data"], "judgment": expand_judgment_audit(record["data"]["judgment"]),
                "classification": core["classification"], "merge": out["merge"], "decision": out["decision"]}
        self._audit_from({"audit": [{**record, "data": data}]})
        out = {**out, "merge": {**out["merge"], "inputs": []}, "recorded": record["record_id"]}
        ready = payload.get("ready")
        if ready is not None and out["decision"]["approval"]["rule"] == "none":
            ready = AuditRecordIn.model_validate(ready).filled(payload).to_json()
            self._audit_from({"audit": [ready]})
            out["ready_recorded"] = ready["record_id"]
        return out

    def notify(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._audit_from(payload)
        self.notified.append(payload)
        return {"queue": "notifications", "notification_id": payload["kind"]}

    def record_audit(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.audited.extend(payload["records"])
        return {"appended": len(payload["records"]), "last_hash": None}

    def table(self) -> dict[str, Callable[[Any], Any]]:
        return {
            names.LOAD_POLICY: user_fn(steps.load_policy),
            names.CLASSIFY_CASE: user_fn(steps.classify_case),
            names.ASSESS_POLICY: user_fn(steps.assess_policy),
            names.ASSESS_RISK: user_fn(steps.assess_risk),
            names.ASSESS_REQUESTER_HISTORY: user_fn(steps.assess_requester_history),
            names.ASSESS_CASE: user_fn(steps.assess_case),
            names.DECIDE_POLICY: self.decide_policy,
            names.APPLY_ACTION: self.apply_action,
            names.NOTIFY: self.notify,
            names.RECORD_AUDIT: self.record_audit,
        }


#: The signing key the orchestrator tests sign decisions with (``verify_decision`` is given the same).
TEST_SIGNING_KEY = "orchestrator-tests-signing-key-0123456789abcdef"
_nonces = itertools.count(1)


def decision(
    approver: str,
    roles: list[str],
    gate: dict[str, Any],
    verdict: str = "approve",
    evidence_hash: str | None = None,
    *,
    signed: bool = True,
    nonce: str | None = None,
) -> dict[str, Any]:
    """An ApprovalDecision payload for the tier described by ``gate``, sealed as the decision endpoint
    would (``signed=False``: the forged kind, raised around the app)."""
    payload: dict[str, Any] = {
        "decision": verdict,
        "reason": f"{verdict} by {approver}",
        "approver": approver,
        "roles": roles,
        "at": "2026-01-05T09:30:00+00:00",
        "evidence_hash": evidence_hash or gate["evidence_hash"],
    }
    if not signed:
        return payload
    payload.update(
        case_instance_id=gate["case_instance_id"],
        approval_instance_id=names.approval_instance_id(gate["case_instance_id"], gate["tier"]),
        tier=gate["tier"],
        nonce=nonce or f"n{next(_nonces)}",
    )
    payload["seal"] = decision_seal.seal(TEST_SIGNING_KEY.encode(), payload)
    return payload


def verify_activity(payload: dict[str, Any]) -> dict[str, Any]:
    """The real ``verify_decision`` check with the tests' key."""
    return verdict_of(payload, {decision_seal.SETTING: TEST_SIGNING_KEY})


def fails_first(real: Callable[[Any], Any], times: int = 1) -> Callable[[Any], Any]:
    """``real`` that raises ``RuntimeError("worker lost")`` on its first ``times`` calls (a lost attempt)."""
    left = [times]

    def flaky(payload: Any) -> Any:
        if left[0]:
            left[0] -= 1
            raise RuntimeError("worker lost")
        return real(payload)

    return flaky


def tier_activities() -> dict[str, Callable[[Any], Any]]:
    """Activities an approval tier Sim needs."""
    return {names.VERIFY_DECISION: verify_activity}


def settle(sim: Sim) -> Sim:
    """Deliver queued events and run pending activities (verifications) without firing timers."""
    while not sim.done and (sim.inbox or sim.pending):
        sim.step()
    return sim


Script = Callable[[int, dict[str, Any]], list[list[dict[str, Any]]]]


class Approvals:
    """Runs each approval tier as a nested :class:`Sim` of the real ``approval_tier`` orchestrator.

    ``script(tier, gate)`` returns batches of decisions: each batch is raised together in one episode;
    an empty script lets the tier's timer win (expiry).
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.tiers: list[Sim] = []
        self.parent: Sim | None = None

    def __call__(self, instance_id: str, gate: dict[str, Any]) -> Any:
        start = self.parent.now if self.parent is not None and self.parent.now else None
        sim = Sim(
            approval_tier_orchestrator,
            instance_id,
            gate,
            activities=tier_activities(),
            **({"start": start} if start else {}),
            version=versions.CURRENT,  # a new tier gets host.json's defaultVersion, whatever its case's
        )
        sim.begin()
        for batch in self.script(gate["tier"], gate):
            for d in batch:
                sim.raise_event(DECISION_EVENT, d)
            settle(sim)
        sim.run()
        self.tiers.append(sim)
        if self.parent is not None and sim.now and self.parent.now and self.parent.now < sim.now:
            self.parent.now = sim.now  # the parent resumes after the tier finished
        assert sim.done and "error" not in sim.state, sim.state
        return sim.output


def case_sim(
    event_json: dict[str, Any],
    effects: Effects,
    approvals: Approvals | None = None,
    version: str = versions.CURRENT,
) -> Sim:
    """A Sim of the real ``case_workflow`` orchestrator with the real judgment and fake effects, started
    with orchestration ``version`` (default: what host.json stamps on new instances)."""
    from orchestrations.case_workflow import case_workflow_orchestrator

    subs = {names.APPROVAL_TIER: approvals} if approvals else {}
    instance_id = case_instance_id(BusinessEvent.model_validate(event_json))
    sim = Sim(case_workflow_orchestrator, instance_id, event_json, activities=effects.table(), subs=subs,
              version=version)
    if approvals is not None:
        approvals.parent = sim
    return sim
