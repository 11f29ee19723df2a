"""The one policy-checked path to a side effect: decision + approval → :class:`ActionRequest` (pure).

``apply_action`` calls :func:`plan_action` before touching the ledger or any adapter. It refuses
(:class:`ApplyRefused`) anything the policy decision and the approval outcome do not allow, so no code path
can apply an action that needed approval without one (the orchestrator is not trusted blindly either):

- ``auto``: only when the decision's approval rule is ``none``;
- ``approved``: an approval outcome ``approved`` whose distinct approvers (never the requester) reach the
  rule's ``required`` count, each with an allowed role and the same evidence hash;
- ``rejected`` / ``expired``: only for tools that report outcomes (``report_outcome``), e.g. a failure
  deployment status on GitHub, and only when the approval outcome says so.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.base import ActionRequest
from shared.approvals import distinct_approvers, same_identity
from shared.case_errors import ApplyRefused
from shared.contracts.case import ApprovalOutcome, PolicyDecision
from shared.contracts.effects import ApplyTerms
from shared.contracts.event import BusinessEvent

MODES = ("auto", "approved", "rejected", "expired")


def _check_approval(event: BusinessEvent, decision: ApplyTerms, approval: ApprovalOutcome | None) -> None:
    if approval is None or approval.outcome != "approved":
        raise ApplyRefused(f"{decision.action} needs an approved approval outcome")
    allowed = set(decision.approval_roles)
    hashes = {d.evidence_hash for d in approval.accepted}
    if len(hashes) > 1:
        raise ApplyRefused("approvals were given on different evidence")
    for d in approval.accepted:
        if same_identity(d.approver, event.requester):
            raise ApplyRefused(f"{d.approver} requested the case and cannot approve it")
        if allowed.isdisjoint(d.roles):
            raise ApplyRefused(f"{d.approver} has no role allowed to approve")
    if any(d.decision == "reject" for d in approval.accepted):
        raise ApplyRefused("the approval contains a rejection")
    if len(distinct_approvers(approval.accepted)) < decision.approval_required:
        raise ApplyRefused(
            f"{decision.action} needs {decision.approval_required} distinct approvers, "
            f"got {len(distinct_approvers(approval.accepted))}"
        )


def _parameters(event: BusinessEvent, decision: ApplyTerms) -> dict[str, Any]:
    params: dict[str, Any] = dict(decision.tool_config)
    if decision.adapter == "github-deployment-status":
        params.setdefault("statuses_url", event.attributes.get("deployment_statuses_url"))
        if event.attributes.get("environment") is not None:
            params.setdefault("environment", event.attributes.get("environment"))
    params.setdefault("event_id", event.event_id)
    params.setdefault("event_type", event.type)
    params.setdefault("requester", event.requester)
    params.setdefault("attributes", dict(event.attributes))
    return params


def plan_action(
    case_instance_id: str,
    event: BusinessEvent,
    decision: PolicyDecision | ApplyTerms,
    mode: str,
    approval: ApprovalOutcome | None,
) -> ActionRequest:
    """The adapter request for ``mode`` (auto | approved | rejected | expired), or :class:`ApplyRefused`.
    ``decision``: the policy decision or the terms ``apply_action`` was given of it (the same check)."""
    if isinstance(decision, PolicyDecision):
        decision = ApplyTerms.of(decision)
    if mode not in MODES:
        raise ApplyRefused(f"unknown apply mode {mode!r}")
    if mode == "auto" and decision.approval_rule != "none":
        raise ApplyRefused(
            f"{decision.action} requires {decision.approval_rule} approval; cannot apply automatically"
        )
    if mode == "approved":
        _check_approval(event, decision, approval)
    if mode in ("rejected", "expired"):
        if not decision.report_outcome:
            raise ApplyRefused(f"tool {decision.tool} does not report {mode} outcomes")
        if approval is None or approval.outcome != mode:
            raise ApplyRefused(f"the approval outcome is not {mode}")
    description = f"Case {case_instance_id}: {decision.action} {mode}"
    params = _parameters(event, decision)
    params.setdefault("description", description)
    return ActionRequest(
        tool=decision.adapter,
        action=decision.action,
        instance_id=case_instance_id,
        target=event.subject,
        parameters=params,
        outcome=mode,  # type: ignore[arg-type]
    )
