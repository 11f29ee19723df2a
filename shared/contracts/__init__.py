"""Typed contracts of the case workflow: the inbound event here, the case models appended by their owner.

Import from ``shared.contracts``; each model lives in its own module (``event.py``, ``case.py``).
"""

from shared.contracts.event import CASE_WORKFLOW, BusinessEvent, case_instance_id

__all__ = ["CASE_WORKFLOW", "BusinessEvent", "case_instance_id"]

# Case models (owned by shared/contracts/case.py), appended.
from shared.contracts.case import (
    ApprovalDecision,
    ApprovalGate,
    ApprovalOutcome,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalTier,
    Assessment,
    Budgets,
    CaseStatus,
    Classification,
    EvidencePack,
    MergeResult,
    Outcome,
    PolicyDecision,
    RefusedDecision,
    RetryPolicy,
    TimelineEntry,
)

__all__ += [
    "ApprovalDecision",
    "ApprovalGate",
    "ApprovalOutcome",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ApprovalTier",
    "Assessment",
    "Budgets",
    "CaseStatus",
    "Classification",
    "EvidencePack",
    "MergeResult",
    "Outcome",
    "PolicyDecision",
    "RefusedDecision",
    "RetryPolicy",
    "TimelineEntry",
]
