"""Orchestrator ``case_workflow``: one business event becomes one governed case.

Reads like the process (design brief, seeds 000/002):

    received → load the policy → classify (judgment) → specialists in parallel → decide (merge + policy)
    → classified → [awaiting_approval: one approval sub-orchestration per escalation tier]
    → ready_to_apply → apply exactly once → completed
    | rejected / expired → fallback (report through the tool if it reports outcomes; notify the requester)
    | failed (a budget ran out, or the side effect was refused: business outcomes, runtime status Completed)
    (any step) → stalled while a transient infrastructure fault lasts → back to the stage it left

Failures: every step runs through ``CaseRun.step`` (retry budgets, ``stalled``). A step that still fails
when its budget is spent, or an unexpected exception in this code, fails the *instance* (runtime status
Failed, visible to monitoring and to rewind) after recording stage ``failed`` best effort: bugs and
outages never look like business outcomes.

Deterministic: no I/O, clock, randomness or settings here; the policy is loaded by an activity that
returns a reference (version + digest) with the default budgets and retry, and the judgment steps resolve
the reference themselves (``shared/policy_ref.py``: the document is not copied into the history); time is
``context.current_utc_datetime``; logs only when not replaying (via :class:`CaseRun`).
The input is ``BusinessEvent.model_dump(mode="json")``; the output is the :class:`Outcome` JSON. The custom
status is the :class:`CaseStatus` JSON (stage, timeline, pendingApproval, outcome, approvalInstanceId).
Every activity input carries the event id (``event_id``, or inside ``event``) so each step's run-schema
log line and span name the event; the SDK never compares inputs on replay
(docs/durable-extension-protocol.md#replay), so
instances scheduled with older inputs still replay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from orchestrations import names
from orchestrations.case_run import CaseRun
from shared.approvals import build_evidence_pack, distinct_approvers, seal
from shared.case_errors import BudgetExceeded
from shared.contracts.case import (
    ApprovalGate,
    ApprovalOutcome,
    ApprovalRequest,
    Assessment,
    Classification,
    FinalStage,
    MergeResult,
    Outcome,
    PolicyDecision,
)
from shared.contracts.event import BusinessEvent
from shared.policy_ref import from_load_result
from shared.stages import FINAL_STAGES

bp = df.Blueprint()


def case_workflow_orchestrator(context: df.DurableOrchestrationContext):
    """The case (see the module docstring). Returns the :class:`Outcome` as JSON."""
    event = BusinessEvent.model_validate(context.get_input())
    run = CaseRun(context, event)
    run.publish()
    run.audit(
        "stage",
        {
            "stage": "received",
            "event_type": event.type,
            "requester": event.requester,
            "format": event.format,
            "channel": event.channel,
            "subject": event.subject,
        },
    )
    run.log("received", event_type=event.type)
    run.announce("received")
    try:
        outcome = yield from _process(run)
    except BudgetExceeded as exc:
        outcome = yield from _close_failed(run, f"stopped: {exc}")
    except Exception as exc:  # a step's budget ran out, or a bug: record it, then fail the instance
        yield from _close_failed(run, f"failed: {_first_line(exc)}")
        raise
    return outcome.model_dump(mode="json")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _process(run: CaseRun):
    context = run.context
    event_json = run.event.model_dump(mode="json")

    loaded = yield from run.step(
        names.LOAD_POLICY,
        lambda: run.activity(
            names.LOAD_POLICY, {"case_instance_id": run.case_id, "event_id": run.event.event_id}
        ),
    )
    policy = from_load_result(loaded)
    run.use_defaults(policy.budgets, policy.retry)

    judged = yield from run.step(
        names.CLASSIFY_CASE,
        lambda: run.activity(
            names.CLASSIFY_CASE,
            {
                "case_instance_id": run.case_id,
                "event": event_json,
                **policy.input,
                **run.judgment_input(names.CLASSIFY_CASE, 0, 1),
            },
        ),
    )
    classified = run.judged(judged, "classify")
    classification = Classification.model_validate(classified)

    specialists = list(names.SPECIALIST_ACTIVITIES.items())
    results = yield from run.step(
        "specialists",
        lambda: context.task_all(
            [
                run.activity(
                    activity,
                    {
                        "case_instance_id": run.case_id,
                        "event": event_json,
                        "classification": classified,
                        **policy.input,
                        **run.judgment_input("specialists", index, len(specialists)),
                    },
                )
                for index, (_, activity) in enumerate(specialists)
            ]
        ),
    )
    assessments = [
        Assessment.model_validate(run.judged(r, name))
        for r, (name, _) in zip(results, specialists, strict=True)
    ]

    decide_input = {
        "case_instance_id": run.case_id,
        "event": event_json,
        "classification": classified,
        "assessments": [a.model_dump(mode="json") for a in assessments],
        **policy.input,
    }
    decided = yield from run.step(
        names.DECIDE_POLICY, lambda: run.activity(names.DECIDE_POLICY, decide_input)
    )
    merged = MergeResult.model_validate(decided["merge"])
    decision = PolicyDecision.model_validate(decided["decision"])
    run.use_decision(decision)
    run.enter(
        "classified",
        classification=classified,
        merge=decided["merge"],
        decision=decided["decision"],
        judgment=run.judgment_audit(),
    )

    if decision.approval.rule == "none":
        run.enter("ready_to_apply", approval="not required")
        return (yield from _apply(run, decision, "auto", None))

    run.enter("awaiting_approval", reason=decision.approval.reason)
    approval = yield from _seek_approval(run, classification, merged, decision)
    if approval.outcome == "approved":
        run.enter("ready_to_apply", approvers=distinct_approvers(approval.accepted))
        return (yield from _apply(run, decision, "approved", approval))
    return (yield from _fallback(run, decision, approval))


def _seek_approval(
    run: CaseRun, classification: Classification, merged: MergeResult, decision: PolicyDecision
):
    """Escalation tiers in order; each tier is one ``approval_tier`` sub-orchestration instance."""
    pack = build_evidence_pack(run.case_id, run.event, classification, merged, decision)
    evidence_hash = seal(pack)
    tiers = decision.approval.tiers
    accepted: list = []
    for index, tier in enumerate(tiers):
        now = run.now()
        expires_at = min(now + timedelta(seconds=tier.timeout_s), run.deadline)
        remind_at = min(now + timedelta(seconds=decision.approval.reminder_after_s), expires_at)
        request = ApprovalRequest(
            case_instance_id=run.case_id,
            approval_instance_id=names.approval_instance_id(run.case_id, index),
            tier=index,
            tier_count=len(tiers),
            roles=list(tier.roles),
            rule=decision.approval.rule,
            required=decision.approval.required,
            requested_at=now,
            expires_at=expires_at,
            remind_at=remind_at,
            evidence_hash=evidence_hash,
            pack=pack,
        )
        request_json = request.model_dump(mode="json")
        kind = "approval_requested" if index == 0 else "approval_escalated"
        run.audit(
            kind,
            {
                "tier": index,
                "roles": list(tier.roles),
                "expires_at": request_json["expires_at"],
                "evidence_hash": evidence_hash,
                "pack": request_json["pack"],
            },
        )
        run.log(kind, tier=index)
        notice = {"kind": kind, "event_id": run.event.event_id, "request": request_json}
        yield from run.step(
            names.NOTIFY,
            lambda notice=notice: run.with_audit(run.activity(names.NOTIFY, notice)),  # type: ignore[misc]
        )

        run.tracker.await_approval(request)
        run.publish()
        gate = ApprovalGate(
            case_instance_id=run.case_id,
            tier=index,
            requester=run.event.requester,
            roles=list(tier.roles),
            rule=decision.approval.rule,
            required=decision.approval.required,
            expires_at=expires_at,
            evidence_hash=evidence_hash,
            prior=accepted,
        )
        raw = yield run.sub_orchestrator(
            names.APPROVAL_TIER, gate.model_dump(mode="json"), request.approval_instance_id
        )
        result = ApprovalOutcome.model_validate(raw)
        run.tracker.clear_approval()
        run.publish()
        for d in result.accepted[len(accepted) :]:
            run.audit("decision", d.model_dump(mode="json"))
        for r in result.refused:
            run.audit("decision_refused", r.model_dump(mode="json"))
        accepted = list(result.accepted)
        run.fields = run.fields.with_(decision=result.outcome)
        run.log("approval_tier_finished", tier=index, outcome=result.outcome)
        if result.outcome != "expired":
            return result
        run.audit("approval_tier_expired", {"tier": index, "roles": list(tier.roles)})
    return ApprovalOutcome(
        tier=len(tiers) - 1, outcome="expired", accepted=accepted, refused=[], decided_at=run.now()
    )


def _action_request(
    run: CaseRun, decision: PolicyDecision, mode: str, approval: ApprovalOutcome | None
) -> dict[str, Any]:
    return {
        "case_instance_id": run.case_id,
        "event": run.event.model_dump(mode="json"),
        "decision": decision.model_dump(mode="json"),
        "mode": mode,
        "approval": approval.model_dump(mode="json") if approval else None,
        "at": run.now().isoformat(),  # this attempt's time: the ledger's busy grace runs on this clock
    }


def _apply_step(run: CaseRun, decision: PolicyDecision, mode: str, approval: ApprovalOutcome | None):
    """Apply (with the audit flush) through ``CaseRun.step``; returns the ``apply_action`` result."""
    results = yield from run.step(
        names.APPLY_ACTION,
        lambda: run.with_audit(
            run.activity(names.APPLY_ACTION, _action_request(run, decision, mode, approval))
        ),
    )
    return results[0]


def _apply(run: CaseRun, decision: PolicyDecision, mode: str, approval: ApprovalOutcome | None):
    result = yield from _apply_step(run, decision, mode, approval)
    run.audit("side_effect", {"action": decision.action, "tool": decision.tool, "result": result})
    if result.get("status") == "refused":  # a business outcome: the side effect was refused, not retried
        outcome = Outcome(
            status="failed",
            reason=f"refused: {result.get('reason') or 'the side effect was refused'}",
            action=decision.action,
            tool=decision.tool,
            result=result,
            at=run.now(),
        )
        return (yield from _close(run, outcome))
    approvers = distinct_approvers(approval.accepted) if approval else []
    reason = f"{decision.action} applied via {decision.tool}" + (
        f", approved by {', '.join(approvers)}" if approvers else " without approval (policy: none)"
    )
    outcome = Outcome(
        status="completed",
        reason=reason,
        action=decision.action,
        tool=decision.tool,
        result=result,
        approvers=approvers,
        at=run.now(),
    )
    return (yield from _close(run, outcome))


def _fallback(run: CaseRun, decision: PolicyDecision, approval: ApprovalOutcome):
    if approval.outcome == "rejected":
        rejecter = next(d for d in approval.accepted if d.decision == "reject")
        reason = f"rejected by {rejecter.approver}: {rejecter.reason or 'no reason given'}"
    else:
        reason = f"no decision: every approval tier ({len(decision.approval.tiers)}) expired"
    result = None
    if decision.report_outcome:
        result = yield from _apply_step(run, decision, approval.outcome, approval)
        run.audit(
            "side_effect",
            {"action": decision.action, "tool": decision.tool, "result": result, "outcome": approval.outcome},
        )
    final: FinalStage = "rejected" if approval.outcome == "rejected" else "expired"
    outcome = Outcome(
        status=final,
        reason=reason,
        action=decision.action,
        tool=decision.tool,
        result=result,
        approvers=[],
        at=run.now(),
    )
    return (yield from _close(run, outcome))


def _close(run: CaseRun, outcome: Outcome):
    """Enter the final stage, record it, tell the requester."""
    run.tracker.finish(outcome)
    run.publish()
    run.audit("stage", {"stage": outcome.status, "outcome": outcome.model_dump(mode="json")})
    run.log(outcome.status, reason=outcome.reason)
    run.announce(outcome.status, outcome.reason)
    run.closing = True
    notice = {
        "kind": f"case_{outcome.status}",
        "case_instance_id": run.case_id,
        "requester": run.event.requester,
        "event_id": run.event.event_id,
        "event_type": run.event.type,
        "outcome": outcome.model_dump(mode="json"),
    }
    yield from run.step(names.NOTIFY, lambda: run.with_audit(run.activity(names.NOTIFY, notice)))
    return outcome


def _close_failed(run: CaseRun, reason: str):
    """Stop the case as ``failed`` with ``reason``; the closing steps are best effort."""
    outcome = Outcome(status="failed", reason=reason, at=run.now())
    run.best_effort = True
    if run.tracker.stage in FINAL_STAGES:  # failed while closing: keep the final stage, note the failure
        run.log("closing_failed", reason=reason)
        return run.tracker.status.outcome or outcome
    try:
        return (yield from _close(run, outcome))
    except Exception as exc:  # closing itself failed (e.g. storage down): the stage is already set
        if type(exc) is not Exception:
            raise
        run.log("closing_failed", reason=_first_line(exc))
        return outcome


@bp.orchestration_trigger(context_name="context")
def case_workflow(context: df.DurableOrchestrationContext):
    """Registered orchestrator ``case_workflow`` (delegates to :func:`case_workflow_orchestrator`)."""
    return (yield from case_workflow_orchestrator(context))
