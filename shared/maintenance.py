"""Pure selection rules of the maintenance run: which approvals get a reminder, which histories are purged.

The maintenance activities list instances through the durable client and hand plain :class:`InstanceView`
rows to these functions, so the rules are tested without a task hub.

- Reminder: a running ``case_workflow`` whose custom status is ``awaiting_approval`` with a pending approval
  whose ``remindAt`` (requested time + the policy's ``reminder_after_s``, its SLA) has passed. Each tier is
  reminded once (the notification goes through the ledger with the key ``{case}:approval_reminder:{tier}``).
- Purge: a finished instance (Completed, Failed, Terminated) last updated more than ``retention_days`` ago.
  Approval tier sub-orchestrations finish with their case and are purged by the same rule. Only durable
  history is purged; the audit trail (blob storage) and the ledger stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FINISHED_STATUSES = frozenset({"Completed", "Failed", "Terminated"})


@dataclass(frozen=True)
class InstanceView:
    """What maintenance needs of one instance: id, orchestrator ``name``, ``runtime_status`` (name, e.g.
    ``Running``), ``last_updated`` (UTC or None) and the ``custom_status`` JSON value."""

    instance_id: str
    name: str | None
    runtime_status: str
    last_updated: datetime | None
    custom_status: Any = None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def overdue_approvals(
    views: Iterable[InstanceView], now: datetime, workflow: str = "case_workflow"
) -> list[dict]:
    """Reminders due at ``now``: ``[{"case_instance_id", "request"}]`` (``request`` is the pending
    ApprovalRequest JSON from the custom status), sorted by case id."""
    due: list[dict] = []
    for view in views:
        status = view.custom_status
        if view.name != workflow or view.runtime_status != "Running" or not isinstance(status, dict):
            continue
        pending = status.get("pendingApproval")
        if status.get("stage") != "awaiting_approval" or not isinstance(pending, dict):
            continue
        try:
            remind_at = _aware(datetime.fromisoformat(str(pending["remind_at"]).replace("Z", "+00:00")))
        except (KeyError, ValueError):
            continue
        if remind_at <= _aware(now):
            due.append({"case_instance_id": view.instance_id, "request": pending})
    return sorted(due, key=lambda d: d["case_instance_id"])


def purge_candidates(
    views: Iterable[InstanceView], now: datetime, retention_days: int, keep: Iterable[str] = ()
) -> list[str]:
    """Ids of finished instances last updated before ``now - retention_days`` (minus ``keep``), sorted."""
    cutoff = _aware(now) - timedelta(days=retention_days)
    kept = set(keep)
    return sorted(
        v.instance_id
        for v in views
        if v.runtime_status in FINISHED_STATUSES
        and v.instance_id not in kept
        and v.last_updated is not None
        and _aware(v.last_updated) < cutoff
    )


def orphaned_tiers(instances: Iterable[InstanceView]) -> list[str]:
    """Approval tier instances still running under a terminated case (the runtime does not cascade terminate
    to sub-orchestrations): the ids the maintenance run terminates. Pure."""
    running = {v.instance_id for v in instances if v.runtime_status in ("Running", "Pending")}
    out: list[str] = []
    for view in instances:
        custom = view.custom_status if isinstance(view.custom_status, dict) else {}
        tier = custom.get("approvalInstanceId")
        if view.runtime_status == "Terminated" and isinstance(tier, str) and tier in running:
            out.append(tier)
    return out
