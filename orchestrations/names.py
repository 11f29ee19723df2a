"""Function names of the case workflow's orchestrators and activities, as module constants.

Orchestrators call activities and sub-orchestrators by these names (never by importing the activity
modules), and starters import the orchestrator names from here. Each constant equals the decorated Python
function's name, which is the function name in the v2 programming model.
"""

from shared.contracts.event import CASE_WORKFLOW

# Orchestrators.
APPROVAL_TIER = "approval_tier"
CASE_MAINTENANCE = "case_maintenance"
#: Fixed instance id of the singleton maintenance orchestration.
MAINTENANCE_INSTANCE_ID = "case-maintenance"

# Activities (one business action each).
LOAD_POLICY = "load_policy"
CLASSIFY_CASE = "classify_case"
ASSESS_POLICY = "assess_policy"
ASSESS_RISK = "assess_risk"
ASSESS_REQUESTER_HISTORY = "assess_requester_history"
#: The three specialists in one activity (orchestration version 7.0; the three above for older instances).
ASSESS_CASE = "assess_case"
DECIDE_POLICY = "decide_policy"
RECORD_AUDIT = "record_audit"
NOTIFY = "notify"
APPLY_ACTION = "apply_action"
FIND_MAINTENANCE_WORK = "find_maintenance_work"
PURGE_CASE_HISTORY = "purge_case_history"
VERIFY_DECISION = "verify_decision"

#: The specialists of every case, in order, keyed by specialist name, with the activity each runs as for
#: instances older than orchestration version 7.0 (fanned out in parallel); from 7.0 all run in
#: :data:`ASSESS_CASE`, in this order.
SPECIALIST_ACTIVITIES = {
    "policy": ASSESS_POLICY,
    "risk": ASSESS_RISK,
    "requester_history": ASSESS_REQUESTER_HISTORY,
}


def approval_instance_id(case_instance_id: str, tier: int) -> str:
    """Instance id of a case's approval sub-orchestration for escalation tier ``tier`` (0-based)."""
    return f"{case_instance_id}-approval-{tier}"


__all__ = [
    "APPLY_ACTION",
    "APPROVAL_TIER",
    "ASSESS_CASE",
    "ASSESS_POLICY",
    "ASSESS_REQUESTER_HISTORY",
    "ASSESS_RISK",
    "CASE_MAINTENANCE",
    "CASE_WORKFLOW",
    "CLASSIFY_CASE",
    "DECIDE_POLICY",
    "FIND_MAINTENANCE_WORK",
    "LOAD_POLICY",
    "MAINTENANCE_INSTANCE_ID",
    "NOTIFY",
    "PURGE_CASE_HISTORY",
    "RECORD_AUDIT",
    "SPECIALIST_ACTIVITIES",
    "VERIFY_DECISION",
    "approval_instance_id",
]
