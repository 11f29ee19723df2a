"""Builders shared by the workflow unit tests (events, classifications, merges)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contracts.case import Assessment, Classification, MergeResult
from shared.contracts.event import BusinessEvent


def make_event(
    type_: str, requester: str = "alice", subject: str | None = "order-42", **attributes: Any
) -> BusinessEvent:
    return BusinessEvent(
        event_id="evt-1",
        source="tests",
        type=type_,
        subject=subject,
        requester=requester,
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        format="plain",
        channel="http",
        attributes=attributes,
    )


def make_classification(
    risk: str = "write", action: str = "order.cancel", confidence: float = 0.9
) -> Classification:
    return Classification(
        category="orders", action=action, risk_class=risk, confidence=confidence, rationale="t"
    )


def assessment(name: str, rec: str, conf: float, reasons=(), risks=()) -> Assessment:
    return Assessment(
        specialist=name, recommendation=rec, confidence=conf, reasons=list(reasons), risks=list(risks)
    )


def confident_merge() -> MergeResult:
    return MergeResult(
        recommendation="approve",
        confidence=0.9,
        reasons=[],
        risks=[],
        rule="unanimous-approve",
        threshold=0.6,
        needs_human=False,
        inputs=[],
    )


def unsure_merge() -> MergeResult:
    return MergeResult(
        recommendation="approve",
        confidence=0.4,
        reasons=[],
        risks=[],
        rule="unanimous-approve",
        threshold=0.6,
        needs_human=True,
        inputs=[],
    )
