"""shared/maintenance.py: which approval tiers the maintenance run terminates."""

from __future__ import annotations


def test_maintenance_terminates_tiers_orphaned_by_a_terminated_case():
    from shared.maintenance import InstanceView, orphaned_tiers

    views = [
        InstanceView(
            "case-a", "case_workflow", "Terminated", None, {"approvalInstanceId": "case-a-approval-0"}
        ),
        InstanceView("case-a-approval-0", "approval_tier", "Running", None, {}),
        InstanceView("case-b", "case_workflow", "Running", None, {"approvalInstanceId": "case-b-approval-0"}),
        InstanceView("case-b-approval-0", "approval_tier", "Running", None, {}),
        InstanceView(
            "case-c", "case_workflow", "Terminated", None, {"approvalInstanceId": "case-c-approval-1"}
        ),
        InstanceView("case-c-approval-1", "approval_tier", "Completed", None, {}),
    ]
    assert orphaned_tiers(views) == ["case-a-approval-0"]
