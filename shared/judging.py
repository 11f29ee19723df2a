"""One judgment step as the activities (and the eval bench) run it: select the judgment, judge, record.

:func:`select_judgment` picks :class:`shared.judgment.RulesJudgment` (``CASE_JUDGMENT=rules``, the default)
or :class:`shared.agent_judgment.AgentJudgment` (``agent``). :func:`judge_classification` and
:func:`judge_assessment` return the validated typed judgment with its :class:`JudgmentRecord` (source,
reason, model, prompt hash, usage, latency). Pure apart from the model calls of the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.agent_judgment import AgentJudgment
from shared.contracts.case import Assessment, Classification
from shared.contracts.event import BusinessEvent
from shared.judgment import Judgment, default_judgment, validated_assessment, validated_classification
from shared.judgment_budget import JudgmentRecord, JudgmentSlot, JudgmentUsage
from shared.judgment_settings import JudgmentSettings
from shared.policy import PolicyDocument


def select_judgment(
    settings: JudgmentSettings,
    policy: PolicyDocument,
    usage: JudgmentUsage | None = None,
    slot: JudgmentSlot | None = None,
    client_factory: Callable[..., Any] | None = None,
) -> Judgment:
    """The judgment ``settings.mode`` names, for a step of a case that spent ``usage`` so far."""
    if settings.mode == "agent":
        return AgentJudgment(settings, policy, usage, slot, client_factory=client_factory)
    return default_judgment(policy)


def _record(judgment: Judgment, step: str) -> JudgmentRecord:
    record = getattr(judgment, "record", None)
    return record if isinstance(record, JudgmentRecord) else JudgmentRecord(step=step, source="rules")


def judge_classification(judgment: Judgment, event: BusinessEvent) -> tuple[Classification, JudgmentRecord]:
    """Classify ``event``; the result is validated again like any input. Returns it with its record."""
    classification = validated_classification(judgment.classify(event))
    return classification, _record(judgment, "classify")


def judge_assessment(
    judgment: Judgment,
    specialist: str,
    event: BusinessEvent,
    classification: Classification,
    policy: PolicyDocument,
) -> tuple[Assessment, JudgmentRecord]:
    """One specialist's validated assessment with its record."""
    assessment = validated_assessment(judgment.assess(specialist, event, classification, policy))
    return assessment, _record(judgment, specialist)
