"""Approval tier sub-orchestration: waits for ``ApprovalDecision`` events raced against the tier's deadline.

One instance per escalation tier (id ``{case}-approval-{tier}``, recorded in the case's custom status as
``approvalInstanceId`` so the decision endpoint raises events to it). Its loop yields only on
``task_any([wait_for_external_event("ApprovalDecision"), create_timer(deadline)])`` and cancels the timer
when a decision wins, so a wait for decisions is open whenever one can arrive. This matters because of the
SDK 1.7.0 quirk (docs/durable-extension-protocol.md#external-events): an event raised while no wait of its
name is open is handed to
every later wait of that name, and several such events collapse to the last. With only the race between
waits, several decisions arriving together are each delivered once, in order. Notifications and audit are
the parent's job (before and after the tier), never inside this loop.

Every decision is re-checked here (``shared.approvals.check_decision``): identity, role, not the requester,
the sealed evidence hash, not past the deadline, not already decided by that approver. A refused decision
is recorded in the output and the wait goes on. The output is an :class:`ApprovalOutcome` (JSON):
``approved`` once ``required`` distinct approvers approved (approvals carried over from earlier tiers count),
``rejected`` on the first accepted reject, ``expired`` when the timer wins.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared.approvals import DECISION_EVENT, check_decision, tally
from shared.contracts.case import ApprovalDecision, ApprovalGate, ApprovalOutcome, RefusedDecision

logger = logging.getLogger("case_workflow.approval")

bp = df.Blueprint()

#: Refused decisions kept in the output beyond which only a count is kept (bounds the history size).
MAX_REFUSED_KEPT = 50


def _progress(gate: ApprovalGate, accepted: list[ApprovalDecision], refused: int) -> dict[str, Any]:
    return {
        "tier": gate.tier,
        "required": gate.required,
        "approvedBy": [d.approver for d in accepted if d.decision == "approve"],
        "refused": refused,
        "expiresAt": gate.expires_at.isoformat(),
    }


def approval_tier_orchestrator(context: df.DurableOrchestrationContext):
    """The tier's decision loop (see the module docstring). Input: :class:`ApprovalGate` JSON."""
    gate = ApprovalGate.model_validate(context.get_input())
    accepted: list[ApprovalDecision] = list(gate.prior)
    refused: list[RefusedDecision] = []
    refused_count = 0
    context.set_custom_status(_progress(gate, accepted, refused_count))
    while True:
        deadline = gate.expires_at
        timer = context.create_timer(deadline)
        decision_task = context.wait_for_external_event(DECISION_EVENT)
        winner = yield context.task_any([decision_task, timer])
        if winner is timer:
            outcome = "expired"
            break
        timer.cancel()
        check = check_decision(decision_task.result, gate, accepted, context.current_utc_datetime)
        if check.accepted and check.decision is not None:
            accepted.append(check.decision)
            if not context.is_replaying:
                logger.info(
                    "case %s tier %s: %s by %s accepted",
                    gate.case_instance_id,
                    gate.tier,
                    check.decision.decision,
                    check.decision.approver,
                )
            verdict = tally(accepted, gate.required)
            if verdict is not None:
                outcome = verdict
                break
        else:
            refused_count += 1
            if len(refused) < MAX_REFUSED_KEPT:
                raw = decision_task.result
                refused.append(RefusedDecision(raw=raw, reason=check.reason or "refused"))
            if not context.is_replaying:
                logger.info(
                    "case %s tier %s: decision refused: %s", gate.case_instance_id, gate.tier, check.reason
                )
        context.set_custom_status(_progress(gate, accepted, refused_count))
    context.set_custom_status({**_progress(gate, accepted, refused_count), "outcome": outcome})
    result = ApprovalOutcome(
        tier=gate.tier,
        outcome=outcome,  # type: ignore[arg-type]
        accepted=accepted,
        refused=refused,
        decided_at=context.current_utc_datetime,
    )
    return result.model_dump(mode="json")


@bp.orchestration_trigger(context_name="context")
def approval_tier(context: df.DurableOrchestrationContext):
    """Registered orchestrator ``approval_tier`` (delegates to :func:`approval_tier_orchestrator`)."""
    return (yield from approval_tier_orchestrator(context))
