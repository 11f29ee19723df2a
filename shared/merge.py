"""Deterministic merge of specialist assessments, with provenance (design brief, seeds 002: "make each agent
produce structured output, then merge those outputs in normal code").

Declared tie-break rules, applied in this order (the first that applies names the result's ``rule``):

1. ``no-assessments``: nothing to merge → ``escalate`` with confidence 0.
2. ``veto``: any ``reject`` → ``reject``; confidence = the highest rejecting confidence.
3. ``escalation-wins``: any ``escalate`` → ``escalate``; confidence = the highest escalating confidence.
4. ``unanimous-approve``: all ``approve`` → ``approve``; confidence = the lowest confidence (conservative).

Within a rule, contributing specialists are ordered by descending confidence, then by name, and their
reasons come first; risks are the union over every specialist in name order, first occurrence kept.
``needs_human`` is true when the result is not ``approve`` or its confidence is below the threshold, so
low confidence routes the case to a person. The inputs are kept, sorted by specialist, as provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shared.contracts.case import Assessment, MergeResult

RULES = ("no-assessments", "veto", "escalation-wins", "unanimous-approve")


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def merge_assessments(assessments: Sequence[Assessment], threshold: float) -> MergeResult:
    """Merge ``assessments`` by the declared rules (pure; order of the input does not matter).

    ``threshold`` is the confidence in [0, 1] below which a human must decide (the policy's
    ``defaults.low_confidence_threshold``). Returns a :class:`MergeResult` carrying its inputs.
    """
    inputs = sorted(assessments, key=lambda a: (a.specialist, a.recommendation, -a.confidence))
    if not inputs:
        return MergeResult(
            recommendation="escalate",
            confidence=0.0,
            reasons=["no specialist assessed the case"],
            risks=[],
            rule="no-assessments",
            threshold=threshold,
            needs_human=True,
            inputs=[],
        )
    by_kind = {
        kind: [a for a in inputs if a.recommendation == kind] for kind in ("reject", "escalate", "approve")
    }
    if by_kind["reject"]:
        rule, recommendation, deciders = "veto", "reject", by_kind["reject"]
        confidence = max(a.confidence for a in deciders)
    elif by_kind["escalate"]:
        rule, recommendation, deciders = "escalation-wins", "escalate", by_kind["escalate"]
        confidence = max(a.confidence for a in deciders)
    else:
        rule, recommendation, deciders = "unanimous-approve", "approve", by_kind["approve"]
        confidence = min(a.confidence for a in deciders)
    ordered = sorted(deciders, key=lambda a: (-a.confidence, a.specialist))
    others = [a for a in inputs if a not in deciders]
    reasons = _unique([r for a in ordered for r in a.reasons] + [r for a in others for r in a.reasons])
    risks = _unique(r for a in inputs for r in a.risks)
    return MergeResult(
        recommendation=recommendation,  # type: ignore[arg-type]
        confidence=round(confidence, 4),
        reasons=reasons,
        risks=risks,
        rule=rule,
        threshold=threshold,
        needs_human=recommendation != "approve" or confidence < threshold,
        inputs=inputs,
    )
