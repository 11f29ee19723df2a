"""Approval tier sub-orchestration: verified ``ApprovalDecision`` events raced against the tier's one timer.

One instance per escalation tier (id ``{case}-approval-{tier}``, recorded in the case's custom status as
``approvalInstanceId`` so the decision endpoint raises events to it). The tier creates its deadline timer
**once** and races it, in every turn of the loop, against one open ``wait_for_external_event`` and the
verifications in flight: ``task_any([wait, deadline, *verifying])``. A wait for decisions is open whenever
one can arrive, which matters because of the SDK 1.7.0 quirk
(docs/durable-extension-protocol.md#external-events): an event raised while no wait of its name is open is
handed to every later wait of that name, and several such events collapse to the last. Here, as soon as a
wait completes the next one is created before the next yield, so
decisions arriving together are each delivered once, in order, while earlier ones are still verified.

Each raised decision is first verified by the ``verify_decision`` activity (its seal proves the app's
decision endpoint made it for this case, approval instance and tier: ``shared.decision_seal``); a seal
nonce seen before is a replay. Then ``shared.approvals.check_decision`` re-checks identity, role, not the
requester, the sealed evidence hash, not past the deadline (the orchestration's own clock: the host's),
not already decided by that approver. A refused decision is recorded in the output with its reason (a
bounded summary of what arrived) and the wait goes on; decisions still being verified when the deadline
fires are refused as late. Notifications and audit are the parent's job.

The output is an :class:`ApprovalOutcome` (JSON): ``approved`` once ``required`` distinct approvers
approved (approvals carried over from earlier tiers count), ``rejected`` on the first accepted reject,
``expired`` when the timer wins.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df

from orchestrations import names, versions
from shared import strict_values
from shared.approvals import DECISION_EVENT, brief_outcome, check_decision, tally
from shared.contracts.case import ApprovalDecision, ApprovalGate, ApprovalOutcome, RefusedDecision
from shared.contracts.effects import Verdict, VerifyDecisionInput

logger = logging.getLogger("case_workflow.approval")

bp = df.Blueprint()

#: Refused decisions kept in the output beyond which only a count is kept (bounds the history size).
MAX_REFUSED_KEPT = 50
#: Longest text kept of a refused decision's payload.
MAX_RAW_CHARS = 1000
_SUMMARY_KEYS = ("decision", "approver", "roles", "at", "tier", "nonce", "approval_instance_id")


#: Verdicts shown in the custom status (``decisions``, newest last); the audit trail keeps all of them.
MAX_VERDICTS_SHOWN = 20


def _progress(
    gate: ApprovalGate,
    accepted: list[ApprovalDecision],
    refused: int,
    verdicts: list[dict[str, Any]],
    version: str | None,
) -> dict[str, Any]:
    """The tier's custom status; ``orchestrationVersion`` is the version the tier was started with
    (``ExecutionStarted.Version``, ``""`` when unversioned), which the Durable HTTP API does not report
    (``tools/replay_gate.py`` reads it from here)."""
    return {
        "orchestrationVersion": version or "",
        "tier": gate.tier,
        "required": gate.required,
        "approvedBy": [d.approver for d in accepted if d.decision == "approve"],
        "refused": refused,
        "expiresAt": gate.expires_at.isoformat(),
        "decisions": verdicts[-MAX_VERDICTS_SHOWN:],
    }


def _verdict(raw: Any, status: str, reason: str | None) -> dict[str, Any]:
    """What the case view shows of one handled decision: its ``decisionId`` (the nonce), who, the verdict."""
    summary = _summary(raw)
    fields = summary if isinstance(summary, dict) else {}
    return {
        "decisionId": fields.get("nonce"),
        "approver": str(fields.get("approver"))[:256] if fields.get("approver") is not None else None,
        "decision": fields.get("decision") if fields.get("decision") in ("approve", "reject") else None,
        "status": status,
        "reason": reason,
    }


def _summary(raw: Any) -> Any:
    """A bounded copy of what arrived (attackers choose the payload; the output must stay small)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return raw[:MAX_RAW_CHARS]
    if isinstance(raw, dict):
        kept = {k: raw.get(k) for k in _SUMMARY_KEYS if k in raw}
        text = json.dumps(kept, default=str)
        return kept if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS]
    return json.dumps(raw, default=str)[:MAX_RAW_CHARS]


def _nonce(raw: Any) -> str | None:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    nonce = raw.get("nonce") if isinstance(raw, dict) else None
    return nonce if isinstance(nonce, str) else None


def _as_object(raw: Any) -> Any:
    """A raised decision's JSON text as the object it holds (strictly parsed, ``shared.strict_values``),
    or ``raw`` itself when it is no text of a JSON object (``verify_decision`` refuses it then, as it
    refuses the text)."""
    if not isinstance(raw, str):
        return raw
    try:
        value = strict_values.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, dict) else raw


def approval_tier_orchestrator(context: df.DurableOrchestrationContext):
    """The tier's decision loop (see the module docstring). Input: :class:`ApprovalGate` JSON. From
    orchestration version 6.0 (the tier's own, ``orchestrations/versions.py``) its output is brief
    (``shared.approvals.brief_outcome``) and ``verify_decision`` gets a decision's text as its object."""
    gate = ApprovalGate.model_validate(context.get_input())
    brief = versions.major(context.version) >= versions.BRIEF_APPROVALS
    approval_instance_id = context.instance_id
    accepted: list[ApprovalDecision] = list(gate.prior)
    refused: list[RefusedDecision] = []
    counters = {"refused": 0}
    seen_nonces: set[str] = {d.nonce for d in gate.prior if d.nonce}
    verdicts: list[dict[str, Any]] = []
    context.set_custom_status(_progress(gate, accepted, 0, verdicts, context.version))

    def refuse(raw: Any, reason: str) -> None:
        counters["refused"] += 1
        verdicts.append(_verdict(raw, "refused", reason))
        if len(refused) < MAX_REFUSED_KEPT:
            refused.append(RefusedDecision(raw=_summary(raw), reason=reason))
        if not context.is_replaying:
            logger.info("case %s tier %s: decision refused: %s", gate.case_instance_id, gate.tier, reason)

    deadline = context.create_timer(gate.expires_at)
    wait = context.wait_for_external_event(DECISION_EVENT)
    verifying: list[tuple[Any, Any]] = []  # (verify_decision task, raw decision), in arrival order
    outcome: str | None = None
    while outcome is None:
        winner = yield context.task_any([wait, deadline, *[task for task, _ in verifying]])
        if winner is deadline:
            outcome = "expired"
            for _, raw in verifying:
                refuse(raw, f"arrived as the approval tier expired at {gate.expires_at.isoformat()}")
            break
        if winner is wait:
            raw = wait.result
            wait = context.wait_for_external_event(DECISION_EVENT)  # open again before the next yield
            check = VerifyDecisionInput(
                decision=_as_object(raw) if brief else raw,
                case_instance_id=gate.case_instance_id,
                approval_instance_id=approval_instance_id,
                tier=gate.tier,
            )
            verifying.append((context.call_activity(names.VERIFY_DECISION, check.to_json()), raw))
            continue
        index = next(i for i, (task, _) in enumerate(verifying) if task is winner)
        _, raw = verifying.pop(index)
        result = winner.result if isinstance(winner.result, dict) else {"ok": False, "reason": None}
        verified = Verdict.model_validate(result)
        nonce = _nonce(raw)
        if not verified.ok:
            refuse(raw, verified.reason or "the decision could not be verified")
        elif nonce in seen_nonces:
            refuse(raw, "replayed decision: this nonce was already handed in")
        else:
            seen_nonces.add(str(nonce))
            checked = check_decision(raw, gate, accepted, context.current_utc_datetime)
            if checked.accepted and checked.decision is not None:
                accepted.append(checked.decision)
                verdicts.append(_verdict(raw, "counted", None))
                if not context.is_replaying:
                    logger.info(
                        "case %s tier %s: %s by %s accepted",
                        gate.case_instance_id,
                        gate.tier,
                        checked.decision.decision,
                        checked.decision.approver,
                    )
                outcome = tally(accepted, gate.required)
            else:
                refuse(raw, checked.reason or "refused")
        context.set_custom_status(_progress(gate, accepted, counters["refused"], verdicts, context.version))
    if outcome != "expired":
        deadline.cancel()
        for _, raw in verifying:
            refuse(raw, f"arrived after this approval tier was decided ({outcome})")
    final = _progress(gate, accepted, counters["refused"], verdicts, context.version)
    context.set_custom_status({**final, "outcome": outcome})
    result = ApprovalOutcome(
        tier=gate.tier,
        outcome=outcome,  # type: ignore[arg-type]
        accepted=accepted,
        refused=refused,
        decided_at=context.current_utc_datetime,
    )
    return brief_outcome(result, gate, approval_instance_id) if brief else result.model_dump(mode="json")


@bp.orchestration_trigger(context_name="context")
def approval_tier(context: df.DurableOrchestrationContext):
    """Registered orchestrator ``approval_tier`` (delegates to :func:`approval_tier_orchestrator`)."""
    return (yield from approval_tier_orchestrator(context))
