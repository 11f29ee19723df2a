"""The case stage machine and the custom status it keeps.

Stages: ``received → classified → awaiting_approval → ready_to_apply → completed | rejected | expired |
failed``; ``classified`` may go straight to ``ready_to_apply``, and any non-final stage may go to ``failed``
(budget exceeded, activity failure). Any non-final stage may go to ``stalled`` (a step keeps failing on a
transient infrastructure fault and is retried with backoff); ``stalled`` resumes to the stage it left (or
fails). :class:`CaseStatusTracker` is a small pure object the orchestrator
drives with its deterministic clock; ``to_json()`` is what ``set_custom_status`` receives.
"""

from __future__ import annotations

from datetime import datetime

from shared.case_errors import StageError
from shared.contracts.case import ApprovalRequest, CaseStatus, Outcome, Stage, TimelineEntry
from shared.contracts.event import BusinessEvent

FINAL_STAGES: frozenset[str] = frozenset({"completed", "rejected", "expired", "failed"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"classified", "failed", "stalled"}),
    "classified": frozenset({"awaiting_approval", "ready_to_apply", "failed", "stalled"}),
    "awaiting_approval": frozenset({"ready_to_apply", "rejected", "expired", "failed", "stalled"}),
    "ready_to_apply": frozenset({"completed", "failed", "stalled"}),
    "stalled": frozenset({"received", "classified", "awaiting_approval", "ready_to_apply", "failed"}),
    "completed": frozenset(),
    "rejected": frozenset(),
    "expired": frozenset(),
    "failed": frozenset(),
}


def can_enter(current: str, target: str) -> bool:
    """True when ``current → target`` is an allowed transition."""
    return target in TRANSITIONS.get(current, frozenset())


class CaseStatusTracker:
    """Mutable holder of one case's :class:`CaseStatus`; every method is pure apart from updating it."""

    def __init__(self, case_id: str, event: BusinessEvent, at: datetime, version: str | None = None) -> None:
        """``version``: the orchestration version the case was started with (``context.version``; None or
        ``""`` when unversioned), shown as ``orchestrationVersion``."""
        self.status = CaseStatus.model_validate(
            {
                "orchestration_version": version or "",
                "case_id": case_id,
                "event_id": event.event_id,
                "event_type": event.type,
                "requester": event.requester,
                "stage": "received",
                "timeline": [TimelineEntry(stage="received", at=at)],
            }
        )

    @property
    def stage(self) -> str:
        """The current stage."""
        return self.status.stage

    def enter(self, stage: Stage, at: datetime) -> None:
        """Move to ``stage`` at ``at`` (UTC); raises :class:`StageError` on a disallowed transition."""
        if not can_enter(self.status.stage, stage):
            raise StageError(self.status.stage, stage)
        self.status = self.status.model_copy(
            update={"stage": stage, "timeline": [*self.status.timeline, TimelineEntry(stage=stage, at=at)]}
        )

    def describe(self, *, policy_version: str | None = None, risk_class: str | None = None) -> None:
        """Record the policy version and effective risk class on the case."""
        self.status = self.status.model_copy(
            update={"policy_version": policy_version, "risk_class": risk_class}
        )

    def describe_judgment(self, judgment: dict) -> None:
        """Record the case's judgment summary (source, model, tokens, calls, cost, reason)."""
        self.status = self.status.model_copy(update={"judgment": judgment})
    def stall(self, at: datetime, info: dict) -> None:
        """Enter ``stalled`` at ``at`` with ``info`` (``step``, ``reason``, ``since``, ``retryAt``,
        ``resumeStage``); when already stalled, only ``info`` is updated."""
        if self.status.stage != "stalled":
            self.enter("stalled", at)
        self.status = self.status.model_copy(update={"stalled": info})

    def resume(self, stage: Stage, at: datetime) -> None:
        """Leave ``stalled`` back to ``stage`` (the stage it left)."""
        self.status = self.status.model_copy(update={"stalled": None})
        if self.status.stage == "stalled":
            self.enter(stage, at)

    def await_approval(self, request: ApprovalRequest) -> None:
        """Show ``request`` as the pending approval and target its tier sub-orchestration."""
        self.status = self.status.model_copy(
            update={"pending_approval": request, "approval_instance_id": request.approval_instance_id}
        )

    def clear_approval(self) -> None:
        """No approval pending any more (tier finished)."""
        self.status = self.status.model_copy(update={"pending_approval": None, "approval_instance_id": None})

    def finish(self, outcome: Outcome) -> None:
        """Enter the outcome's final stage (if not already there) and record the outcome."""
        if self.status.stage != outcome.status:
            self.enter(outcome.status, outcome.at)
        self.status = self.status.model_copy(update={"outcome": outcome, "stalled": None})

    def to_json(self) -> dict:
        """The custom-status value (camelCase JSON)."""
        return self.status.to_json()
