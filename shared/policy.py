"""The case policy: file schema (YAML or JSON, versioned) and its pure evaluation.

A policy maps an event type (plus attribute conditions, e.g. ``environment == production`` or
``amount > large_amount``) to an action and a tool; the tool's risk class (read, write, privileged,
irreversible) picks the approval rule (none, single, quorum of N), the approver roles per escalation tier
with their timeouts, the retry policy and the per-case budgets; the ``judgment:`` section bounds a
model-backed judgment (calls, tokens, timeout, cost per case). The shipped file is
``shared/policies/default.yaml``; the app setting ``CASE_POLICY_PATH`` replaces it. Only activities load
the file (:func:`load_policy`); orchestrators get the parsed document as data. Nothing here does I/O
except :func:`load_policy`, and nothing imports Azure.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.case_errors import PolicyError
from shared.contracts.case import (
    RISK_ORDER,
    ApprovalPolicy,
    ApprovalRuleName,
    ApprovalTier,
    Budgets,
    Classification,
    MergeResult,
    PolicyDecision,
    RetryPolicy,
    RiskClass,
)
from shared.contracts.event import BusinessEvent
from shared.strict_values import UnreadableValue, read_decimal

#: The policy shipped with the app (used when CASE_POLICY_PATH is unset).
DEFAULT_POLICY_PATH = Path(__file__).parent / "policies" / "default.yaml"

Operator = Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "exists"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Condition(_Strict):
    """``event.attributes[attribute] <op> value`` (or the named ``threshold``); a missing attribute makes
    every operator but ``exists`` false. Numbers compare numerically; ``in`` takes a list."""

    attribute: str
    op: Operator
    value: Any = None
    threshold: str | None = None


class Rule(_Strict):
    """One routing rule; ``risk_class`` may raise the tool's class for this rule, never lower it."""

    id: str
    type: str | None = None
    action: str
    tool: str
    risk_class: RiskClass | None = None
    conditions: list[Condition] = Field(default_factory=list)
    budgets: Budgets | None = None


class RiskSpec(_Strict):
    """Approval of one risk class: ``approval`` none | single | quorum, ``required`` approvers, ``tiers``."""

    approval: ApprovalRuleName
    required: int = 0
    tiers: list[ApprovalTier] = Field(default_factory=list)
    reminder_after_s: int = Field(gt=0, default=14400)

    @model_validator(mode="after")
    def _consistent(self) -> RiskSpec:
        if self.approval == "none":
            return self
        if not self.tiers:
            raise ValueError(f"approval {self.approval!r} needs at least one tier")
        if self.approval == "single" and self.required not in (0, 1):
            raise ValueError("approval 'single' means required: 1")
        if self.approval == "quorum" and self.required < 2:
            raise ValueError("approval 'quorum' needs required >= 2")
        return self

    def to_approval(self, reason: str) -> ApprovalPolicy:
        """This spec as the :class:`ApprovalPolicy` of a decision."""
        required = 0 if self.approval == "none" else max(1, self.required)
        return ApprovalPolicy(
            rule=self.approval,
            required=required,
            tiers=list(self.tiers) if self.approval != "none" else [],
            reminder_after_s=self.reminder_after_s,
            reason=reason,
        )


class ToolSpec(_Strict):
    """A tool: its risk class, the adapter that applies it, the adapter ``config`` and ``report_outcome``."""

    risk_class: RiskClass
    adapter: str
    config: dict[str, Any] = Field(default_factory=dict)
    report_outcome: bool = False


class Defaults(_Strict):
    """Retry policy, budgets, the low-confidence threshold and the review approval forced by judgment."""

    retry: RetryPolicy = RetryPolicy()
    budgets: Budgets = Budgets()
    low_confidence_threshold: float = Field(ge=0.0, le=1.0, default=0.6)
    review: RiskSpec


class JudgmentBudget(_Strict):
    """The top-level ``judgment:`` section: limits of a model-backed judgment per case, enforced before each
    model call (``shared/judgment_budget.py``). ``max_calls`` model calls (a retry is a call),
    ``max_tokens`` input + output tokens, ``timeout_s`` seconds per call (at most one retry after a timeout,
    a 429 or a 5xx), ``max_cost`` estimated cost in the currency-free unit of the prices,
    ``price_per_1k_input`` / ``price_per_1k_output`` per 1,000 tokens. Unused by the rules judgment."""

    max_calls: int = Field(ge=0, default=8)
    max_tokens: int = Field(ge=0, default=24000)
    timeout_s: float = Field(gt=0, le=600, default=20.0)
    max_cost: float = Field(ge=0, default=1.0)
    price_per_1k_input: float = Field(ge=0, default=0.0)
    price_per_1k_output: float = Field(ge=0, default=0.0)


class PolicyDocument(_Strict):
    """A whole policy file (``readers``: roles that may read every case, default ``[auditor]``; see
    ``shared.access``). Cross-checked on load: every rule's tool exists, every risk class is
    described, thresholds referenced by conditions exist, and no rule lowers its tool's risk class."""

    version: str = Field(min_length=1)
    description: str = ""
    thresholds: dict[str, float] = Field(default_factory=dict)
    readers: list[str] = Field(default_factory=lambda: ["auditor"])
    defaults: Defaults
    risk_classes: dict[RiskClass, RiskSpec]
    tools: dict[str, ToolSpec]
    rules: list[Rule]
    fallback: Rule
    judgment: JudgmentBudget = JudgmentBudget()

    @model_validator(mode="after")
    def _cross_check(self) -> PolicyDocument:
        missing = [name for name in RISK_ORDER if name not in self.risk_classes]
        if missing:
            raise ValueError(f"risk_classes lacks {', '.join(missing)}")
        if self.defaults.review.approval == "none":
            raise ValueError("defaults.review must require an approval")
        for rule in [*self.rules, self.fallback]:
            if rule.tool not in self.tools:
                raise ValueError(f"rule {rule.id!r} names unknown tool {rule.tool!r}")
            tool_risk = self.tools[rule.tool].risk_class
            if rule.risk_class and RISK_ORDER.index(rule.risk_class) < RISK_ORDER.index(tool_risk):
                raise ValueError(
                    f"rule {rule.id!r} lowers tool {rule.tool!r} from {tool_risk} to {rule.risk_class}"
                )
            for condition in rule.conditions:
                if condition.threshold is not None and condition.threshold not in self.thresholds:
                    raise ValueError(f"rule {rule.id!r} names unknown threshold {condition.threshold!r}")
        return self


def parse_policy(text: str, *, source: str = "<text>") -> PolicyDocument:
    """Parse policy text (YAML, which includes JSON) into a validated :class:`PolicyDocument`.

    Raises :class:`PolicyError` naming ``source`` and the invalid fields.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(source, f"not valid YAML/JSON: {exc}") from exc
    return policy_from_data(raw, source=source)


def policy_from_data(raw: Any, *, source: str = "<data>") -> PolicyDocument:
    """Validate already-parsed policy data (e.g. the JSON an activity handed to the orchestrator)."""
    if not isinstance(raw, dict):
        raise PolicyError(source, "the document must be a mapping")
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(source, fields) from exc


def load_policy(path: str | None) -> PolicyDocument:
    """Read the policy file at ``path`` (None: the shipped default). ``.json`` files are read as JSON,
    anything else as YAML. Raises :class:`PolicyError` when the file is missing or invalid."""
    file = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(file), f"cannot read: {exc.strerror or exc}") from exc
    if file.suffix.lower() == ".json":
        try:
            return policy_from_data(json.loads(text), source=str(file))
        except json.JSONDecodeError as exc:
            raise PolicyError(str(file), f"not valid JSON: {exc}") from exc
    return parse_policy(text, source=str(file))


class _Unreadable(Exception):
    """A numeric condition met a value it cannot read strictly (``shared.strict_values.read_decimal``)."""


def _number(value: Any) -> Decimal | None:
    """``value`` as a strict decimal; None when it is not a number at all (a word compared with eq)."""
    try:
        return read_decimal(value)
    except UnreadableValue:
        return None


def _holds(condition: Condition, attributes: dict[str, Any], thresholds: dict[str, float]) -> bool:
    """One condition; raises :class:`_Unreadable` when an ordering comparison cannot read its value."""
    present = condition.attribute in attributes and attributes[condition.attribute] is not None
    if condition.op == "exists":
        return present
    if not present:
        return False
    actual = attributes[condition.attribute]
    expected = thresholds[condition.threshold] if condition.threshold is not None else condition.value
    if condition.op == "in":
        return isinstance(expected, list) and actual in expected
    if condition.op in ("eq", "ne"):
        a_num, e_num = _number(actual), _number(expected)
        equal = a_num == e_num if a_num is not None and e_num is not None else str(actual) == str(expected)
        return equal if condition.op == "eq" else not equal
    a_num, e_num = _number(actual), _number(expected)
    if a_num is None or e_num is None:
        raise _Unreadable(f"{condition.attribute}={str(actual)[:40]!r} is not a number")
    return {"gt": a_num > e_num, "ge": a_num >= e_num, "lt": a_num < e_num, "le": a_num <= e_num}[
        condition.op
    ]


def condition_holds(condition: Condition, attributes: dict[str, Any], thresholds: dict[str, float]) -> bool:
    """Evaluate one condition against an event's flat ``attributes`` (pure). Numbers are read strictly
    (decimal, finite; ``shared.strict_values``); an ordering comparison on a present value that is not a
    number is *unreadable* and evaluates False here (:func:`match_rule` then takes the stricter branch)."""
    try:
        return _holds(condition, attributes, thresholds)
    except _Unreadable:
        return False


def _first_match(policy: PolicyDocument, event: BusinessEvent, unreadable_holds: bool) -> tuple[Rule, bool]:
    """The first matching rule reading unreadable conditions as ``unreadable_holds``; and whether any
    condition of the rules looked at was unreadable."""
    attributes = dict(event.attributes)
    seen_unreadable = False
    for rule in policy.rules:
        if rule.type is not None and rule.type != event.type:
            continue
        matched = True
        for condition in rule.conditions:
            try:
                holds = _holds(condition, attributes, policy.thresholds)
            except _Unreadable:
                seen_unreadable = True
                holds = unreadable_holds
            if not holds:
                matched = False
                break
        if matched:
            return rule, seen_unreadable
    return policy.fallback, seen_unreadable


def _rule_risk(policy: PolicyDocument, rule: Rule) -> int:
    tool_risk = policy.tools[rule.tool].risk_class
    risk = higher_risk(tool_risk, rule.risk_class) if rule.risk_class else tool_risk
    return RISK_ORDER.index(risk)


def match_rule(policy: PolicyDocument, event: BusinessEvent) -> Rule:
    """The first rule whose ``type`` equals the event type (or is unset) and whose conditions all hold;
    the policy's ``fallback`` when none does.

    Fail closed: when a condition cannot read its value (``amount`` of ``"20,000"``, ``true``, ``NaN``),
    the match is computed both ways (unreadable read as true and as false) and the riskier rule wins.
    """
    as_false, unreadable = _first_match(policy, event, unreadable_holds=False)
    if not unreadable:
        return as_false
    as_true, _ = _first_match(policy, event, unreadable_holds=True)
    return as_true if _rule_risk(policy, as_true) > _rule_risk(policy, as_false) else as_false


def higher_risk(a: RiskClass, b: RiskClass) -> RiskClass:
    """The riskier of two classes (``RISK_ORDER``)."""
    return a if RISK_ORDER.index(a) >= RISK_ORDER.index(b) else b


def evaluate(
    policy: PolicyDocument, event: BusinessEvent, classification: Classification, merged: MergeResult
) -> PolicyDecision:
    """Decide one case (pure): action, tool, effective risk class, approval, retry, budgets.

    The effective risk class is the highest of the tool's, the rule's and the judgment's (judgment can add
    scrutiny, never remove it). When that class needs no approval but ``merged.needs_human`` is true
    (low confidence, or a specialist did not recommend approve), ``defaults.review`` applies.
    """
    rule = match_rule(policy, event)
    tool = policy.tools[rule.tool]
    notes = [f"rule {rule.id} matched event type {event.type}"]
    risk: RiskClass = tool.risk_class
    if rule.risk_class:
        risk = higher_risk(risk, rule.risk_class)
    if RISK_ORDER.index(classification.risk_class) > RISK_ORDER.index(risk):
        notes.append(f"judgment raised risk from {risk} to {classification.risk_class}")
        risk = classification.risk_class
    spec = policy.risk_classes[risk]
    approval = spec.to_approval(f"risk class {risk} requires {spec.approval} approval")
    if spec.approval == "none" and merged.needs_human:
        reason = (
            f"judgment routed to a human: recommendation {merged.recommendation}, "
            f"confidence {merged.confidence:.2f} (threshold {merged.threshold:.2f}, rule {merged.rule})"
        )
        approval = policy.defaults.review.to_approval(reason)
        notes.append(reason)
    return PolicyDecision(
        policy_version=policy.version,
        rule_id=rule.id,
        action=rule.action,
        tool=rule.tool,
        adapter=tool.adapter,
        tool_config=dict(tool.config),
        report_outcome=tool.report_outcome,
        risk_class=risk,
        approval=approval,
        retry=policy.defaults.retry,
        budgets=rule.budgets or policy.defaults.budgets,
        notes=notes,
    )
