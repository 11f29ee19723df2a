"""Deterministic merge of assessments with declared tie-breaks and provenance (shared/merge.py)."""

from __future__ import annotations

import itertools

from shared.merge import merge_assessments
from tests.unit.shared.wf_helpers import assessment


def test_unanimous_approve_takes_the_lowest_confidence():
    """All approve → approve with the minimum confidence."""
    m = merge_assessments([assessment("a", "approve", 0.9), assessment("b", "approve", 0.7)], 0.6)
    assert (m.recommendation, m.confidence, m.rule, m.needs_human) == (
        "approve",
        0.7,
        "unanimous-approve",
        False,
    )


def test_any_reject_vetoes():
    """One reject beats approvals and escalations."""
    m = merge_assessments(
        [
            assessment("a", "approve", 0.99),
            assessment("b", "escalate", 0.9),
            assessment("c", "reject", 0.55, reasons=["self-granted"]),
        ],
        0.6,
    )
    assert (m.recommendation, m.rule, m.confidence) == ("reject", "veto", 0.55)
    assert m.reasons[0] == "self-granted" and m.needs_human


def test_escalate_beats_approve():
    """An escalation wins over approvals and routes to a human."""
    m = merge_assessments([assessment("a", "approve", 0.9), assessment("b", "escalate", 0.8)], 0.6)
    assert (m.recommendation, m.rule, m.needs_human) == ("escalate", "escalation-wins", True)


def test_low_confidence_routes_to_a_human():
    """Approve below the threshold still needs a human."""
    m = merge_assessments([assessment("a", "approve", 0.5)], 0.6)
    assert m.recommendation == "approve" and m.needs_human


def test_no_assessments_escalates():
    """Nothing to merge → escalate with confidence 0."""
    m = merge_assessments([], 0.6)
    assert (m.recommendation, m.confidence, m.rule) == ("escalate", 0.0, "no-assessments")


def test_merge_is_independent_of_input_order():
    """Any permutation gives the same result, provenance included."""
    items = [
        assessment("risk", "escalate", 0.8, reasons=["r1"], risks=["x"]),
        assessment("policy", "escalate", 0.8, reasons=["p1"], risks=["y"]),
        assessment("history", "approve", 0.9, reasons=["h1"], risks=["x"]),
    ]
    results = {merge_assessments(list(p), 0.6).model_dump_json() for p in itertools.permutations(items)}
    assert len(results) == 1


def test_equal_confidence_ties_break_by_specialist_name_and_risks_are_deduplicated():
    """Tied deciders are ordered by name; risks keep first occurrences in name order."""
    m = merge_assessments(
        [
            assessment("risk", "escalate", 0.8, reasons=["r1"], risks=["x"]),
            assessment("policy", "escalate", 0.8, reasons=["p1"], risks=["y", "x"]),
        ],
        0.6,
    )
    assert m.reasons == ["p1", "r1"]
    assert m.risks == ["y", "x"]
    assert [a.specialist for a in m.inputs] == ["policy", "risk"]
