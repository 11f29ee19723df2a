"""Judgment behind a typed boundary: classification and specialist assessments of a case.

The workflow owns routing, stages, approvals and side effects; a judgment only says what an event means
(:class:`Classification`) and what each specialist thinks (:class:`Assessment`). :class:`RulesJudgment` is
the deterministic default. A model-backed judgment can plug in later by implementing :class:`Judgment`;
whatever it returns passes through :func:`validated_classification` / :func:`validated_assessment`, so its
output is validated exactly like any inbound data (design brief, seeds 000: "let the agent decide what
something means, not whether your architecture remains coherent").
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.contracts.case import Assessment, Classification, RiskClass
from shared.contracts.event import BusinessEvent
from shared.policy import PolicyDocument, match_rule
from shared.strict_values import UnreadableValue, read_decimal

#: The specialists fanned out for every case (each one an activity).
SPECIALISTS = ("policy", "risk", "requester_history")

# event type → (category, proposed action, base risk class); amounts and environments adjust the risk.
_KNOWN: dict[str, tuple[str, str, RiskClass]] = {
    "payment.release": ("payments", "payment.release", "write"),
    "refund.request": ("refunds", "refund.issue", "write"),
    "account.change": ("accounts", "account.update", "privileged"),
    "order.cancel": ("orders", "order.cancel", "write"),
    "document.received": ("documents", "document.file", "read"),
    "github.deployment.created": ("deployments", "deployment.gate", "write"),
    "github.member.added": ("access", "access.review", "privileged"),
    "github.repository.transferred": ("repositories", "repository.transfer.acknowledge", "irreversible"),
    "github.repository.publicized": ("repositories", "repository.visibility.acknowledge", "privileged"),
    "github.repository.privatized": ("repositories", "repository.visibility.acknowledge", "write"),
    "github.release.deleted": ("releases", "release.deletion.acknowledge", "irreversible"),
}


class Judgment(Protocol):
    """What the workflow asks a judgment for. Implementations must be safe to call again (activities
    retry) and return the typed models; results are re-validated by the caller."""

    name: str

    def classify(self, event: BusinessEvent) -> Classification:
        """Category, proposed action, estimated risk class, confidence and rationale of ``event``."""
        ...

    def assess(
        self, specialist: str, event: BusinessEvent, classification: Classification, policy: PolicyDocument
    ) -> Assessment:
        """One specialist's recommendation (``specialist`` is one of :data:`SPECIALISTS`)."""
        ...


def validated_classification(raw: Any) -> Classification:
    """Validate a judgment's classification (model or dict); raises ``pydantic.ValidationError``."""
    data = raw.model_dump(mode="json") if isinstance(raw, Classification) else raw
    return Classification.model_validate(data)


def validated_assessment(raw: Any) -> Assessment:
    """Validate a judgment's assessment (model or dict); raises ``pydantic.ValidationError``."""
    data = raw.model_dump(mode="json") if isinstance(raw, Assessment) else raw
    return Assessment.model_validate(data)


def _amount(event: BusinessEvent) -> float | None:
    """The event's ``amount`` read strictly (``shared.strict_values.read_decimal``); None when missing or
    unreadable (the classification then says "no amount given" with low confidence)."""
    try:
        return float(read_decimal(event.attributes.get("amount")))
    except UnreadableValue:
        return None


class RulesJudgment:
    """Deterministic judgment from a table of known event types; ``large_amount`` is the amount above which
    a payment release is irreversible and a refund privileged (the policy's ``thresholds.large_amount``)."""

    name = "rules"

    def __init__(self, large_amount: float = 10000.0) -> None:
        self.large_amount = large_amount

    def classify(self, event: BusinessEvent) -> Classification:
        """Known types get confidence 0.9 (0.5 when a fact they need, like ``amount``, is missing); unknown
        types get ``manual.review`` with confidence 0.2, which routes them to a person."""
        known = _KNOWN.get(event.type)
        if known is None:
            return Classification(
                category="unknown",
                action="manual.review",
                risk_class="privileged",
                confidence=0.2,
                rationale=f"no rule knows event type {event.type}",
            )
        category, action, risk = known
        confidence, notes = 0.9, [f"{event.type} is a known {category} event"]
        amount = _amount(event)
        if event.type in ("payment.release", "refund.request"):
            if amount is None:
                confidence, notes = 0.5, [*notes, "no amount given"]
            elif amount > self.large_amount:
                risk = "irreversible" if event.type == "payment.release" else "privileged"
                notes.append(f"amount {amount:g} is over {self.large_amount:g}")
        if event.type == "github.deployment.created" and event.attributes.get("environment") == "production":
            risk = "privileged"
            notes.append("deployment to production")
        return Classification(
            category=category,
            action=action,
            risk_class=risk,
            confidence=confidence,
            rationale="; ".join(notes),
        )

    def assess(
        self, specialist: str, event: BusinessEvent, classification: Classification, policy: PolicyDocument
    ) -> Assessment:
        """Dispatch to the named specialist; an unknown name raises ``ValueError``."""
        if specialist == "policy":
            return self._policy(event, classification, policy)
        if specialist == "risk":
            return self._risk(event, classification)
        if specialist == "requester_history":
            return self._requester(event)
        raise ValueError(f"unknown specialist {specialist!r}; known: {', '.join(SPECIALISTS)}")

    def _policy(
        self, event: BusinessEvent, classification: Classification, policy: PolicyDocument
    ) -> Assessment:
        rule = match_rule(policy, event)
        if rule is policy.fallback:
            return Assessment(
                specialist="policy",
                recommendation="escalate",
                confidence=0.9,
                reasons=[f"policy {policy.version} has no rule for {event.type}"],
                risks=["unreviewed event type"],
            )
        if rule.action != classification.action:
            return Assessment(
                specialist="policy",
                recommendation="escalate",
                confidence=0.7,
                reasons=[f"judgment proposes {classification.action}, policy maps to {rule.action}"],
                risks=["judgment and policy disagree"],
            )
        return Assessment(
            specialist="policy",
            recommendation="approve",
            confidence=0.9,
            reasons=[f"policy rule {rule.id} covers {event.type}"],
            risks=[],
        )

    def _risk(self, event: BusinessEvent, classification: Classification) -> Assessment:
        risks: list[str] = []
        if not event.subject:
            risks.append("no target object named")
        amount = _amount(event)
        if amount is not None and amount > self.large_amount:
            risks.append(f"amount {amount:g} over {self.large_amount:g}")
        if classification.risk_class in ("privileged", "irreversible"):
            return Assessment(
                specialist="risk",
                recommendation="escalate",
                confidence=0.8,
                reasons=[f"{classification.risk_class} action needs a human"],
                risks=risks,
            )
        confidence = 0.85 if not risks else 0.65
        reasons = [f"{classification.risk_class} action with bounded impact"]
        if classification.confidence < confidence:  # the judgment's doubt (e.g. "no amount given") counts
            confidence = classification.confidence
            reasons.append(
                f"classification confidence {classification.confidence:.2f}: {classification.rationale}"
            )
        return Assessment(
            specialist="risk",
            recommendation="approve",
            confidence=confidence,
            reasons=reasons,
            risks=risks,
        )

    def _requester(self, event: BusinessEvent) -> Assessment:
        requester = event.requester
        member = event.attributes.get("member")
        if member is not None and str(member).lower() == requester.lower():
            return Assessment(
                specialist="requester_history",
                recommendation="reject",
                confidence=0.8,
                reasons=[f"{requester} granted access to themselves"],
                risks=["self-service access"],
            )
        if requester.endswith("[bot]"):
            return Assessment(
                specialist="requester_history",
                recommendation="approve",
                confidence=0.9,
                reasons=[f"{requester} is an automation account"],
                risks=[],
            )
        if requester.lower() in ("unknown", "anonymous"):
            return Assessment(
                specialist="requester_history",
                recommendation="escalate",
                confidence=0.5,
                reasons=["requester is not identified"],
                risks=["anonymous request"],
            )
        return Assessment(
            specialist="requester_history",
            recommendation="approve",
            confidence=0.8,
            reasons=[f"no adverse history recorded for {requester}"],
            risks=[],
        )


def default_judgment(policy: PolicyDocument) -> Judgment:
    """The judgment the activities use: :class:`RulesJudgment` with the policy's ``large_amount``."""
    return RulesJudgment(large_amount=policy.thresholds.get("large_amount", 10000.0))
