"""Case contracts: JSON round trips, validation and the custom status shape (shared/contracts/case.py)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from shared.contracts.case import ApprovalDecision, Assessment, CaseStatus, Classification, TimelineEntry


def test_classification_confidence_is_bounded():
    """Confidence outside [0, 1] and unknown risk classes are rejected."""
    with pytest.raises(ValidationError):
        Classification(category="c", action="a", risk_class="write", confidence=1.5, rationale="")
    with pytest.raises(ValidationError):
        Classification(category="c", action="a", risk_class="dangerous", confidence=0.5, rationale="")


def test_assessment_rejects_unknown_recommendations_and_extra_fields():
    """Only approve|reject|escalate; extra keys are refused (judgment output is validated like input)."""
    with pytest.raises(ValidationError):
        Assessment(specialist="s", recommendation="maybe", confidence=0.5)
    with pytest.raises(ValidationError):
        Assessment.model_validate({"specialist": "s", "recommendation": "approve", "confidence": 0.5, "x": 1})


def test_decision_time_is_normalized_to_utc():
    """Offsets are converted to UTC and naive times taken as UTC."""
    d = ApprovalDecision(
        decision="approve",
        approver="bob",
        at=datetime.fromisoformat("2026-01-05T10:00:00+02:00"),
        evidence_hash="h",
    )
    assert d.at.isoformat() == "2026-01-05T08:00:00+00:00"
    assert ApprovalDecision.model_validate_json(d.model_dump_json()) == d


def test_case_status_uses_camel_case_keys():
    """The custom status JSON has stage, timeline, pendingApproval, outcome, approvalInstanceId."""
    status = CaseStatus(
        case_id="c",
        event_id="e",
        event_type="order.cancel",
        requester="alice",
        stage="received",
        timeline=[TimelineEntry(stage="received", at=datetime(2026, 1, 5))],
    )
    data = status.to_json()
    assert {"stage", "timeline", "pendingApproval", "outcome", "approvalInstanceId", "caseId"} <= set(data)
    assert data["timeline"][0] == {"stage": "received", "at": "2026-01-05T00:00:00Z"}
