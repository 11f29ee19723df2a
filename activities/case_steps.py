"""Activities that judge and decide a case: load the policy, classify, assess (three specialists), decide.

Each is one business action with a JSON input and output (shapes in ``shared/contracts/case.py``). They
read app settings here, at the edge (``AppSettings.current()``, ``JudgmentSettings.from_env``), and call
plain code in ``shared/``; every step runs in a span ``case.<step>`` with the run-schema attributes and
writes one run-schema log line (``shared.telemetry``).

The judgment steps (classify, assess_*) use the judgment ``CASE_JUDGMENT`` selects (``shared/judging.py``).
Their input may carry ``judgment_usage`` (what the case spent on model calls so far) and ``judgment_slot``
(place among parallel steps), their output is ``{"value": <Classification | Assessment JSON>, "judgment":
<JudgmentRecord JSON>}`` (``shared/judgment_budget.py``); model calls happen only here, so a replay reads
the recorded result and never calls the model again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import azure.durable_functions as df

from shared import policy_store
from shared.contracts.case import Assessment, Classification
from shared.contracts.event import BusinessEvent
from shared.judging import judge_assessment, judge_classification, select_judgment
from shared.judgment_budget import JudgmentRecord, JudgmentSlot, JudgmentUsage, judged_output, unpack_judged
from shared.judgment_settings import JudgmentSettings
from shared.merge import merge_assessments
from shared.policy import evaluate
from shared.policy_ref import load_result
from shared.settings import AppSettings
from shared.telemetry import RunFields, elapsed_ms, log_step, set_run_fields, span

logger = logging.getLogger("case_workflow.activities")

bp = df.Blueprint()


def _run_id(payload: dict[str, Any], event: BusinessEvent) -> str:
    return str(payload.get("case_instance_id") or event.event_id)


def _fields(payload: dict[str, Any], event: BusinessEvent | None = None) -> RunFields:
    """Run and event id known before the step runs: the event id from ``event``, else the input's
    ``event_id`` (load_policy's input has no event), else None (an input of an older orchestrator)."""
    event_id = event.event_id if event else payload.get("event_id")
    return RunFields(run_id=str(payload.get("case_instance_id") or "?"), event_id=event_id)


def _step_fields(payload: dict[str, Any], event: BusinessEvent, started: float, **more: Any) -> RunFields:
    """Run fields of a step that judged ``event``: run and event id, latency since ``started``, ``more``."""
    return RunFields(
        run_id=_run_id(payload, event), event_id=event.event_id, latency_ms=elapsed_ms(started), **more
    )


@bp.activity_trigger(input_name="payload")
def load_policy(payload: dict[str, Any]) -> dict[str, Any]:
    """Load the policy file (app setting ``CASE_POLICY_PATH``, default the shipped one; parsed once per
    process, ``shared/policy_store.py``) and return a reference for the orchestrator:
    ``{"version", "digest", "defaults": {"retry", "budgets"}}`` (``shared/policy_ref.py``).
    Input ``{case_instance_id, event_id}`` (both only label the log line and span).
    Raises ``PolicyError`` when the file is missing or invalid."""
    started = time.perf_counter()
    with span("load_policy", _fields(payload)) as current:
        settings = AppSettings.current()
        policy, digest = policy_store.current(settings)
        fields = _fields(payload).with_(latency_ms=elapsed_ms(started))
        set_run_fields(current, fields)
        log_step(logger, "policy_loaded", fields, policy_version=policy.version, policy_digest=digest)
    return load_result(policy, digest)


def _parse(payload: dict[str, Any]) -> tuple[BusinessEvent, Any]:
    event = BusinessEvent.model_validate(payload["event"])
    policy = policy_store.policy_for(payload, AppSettings.current())
    return event, policy


def _judge(payload: dict[str, Any]):
    """Event, policy and the selected judgment for a judgment step (usage and slot from the input)."""
    event, policy = _parse(payload)
    usage = JudgmentUsage.model_validate(payload.get("judgment_usage") or {})
    slot = JudgmentSlot.model_validate(payload.get("judgment_slot") or {})
    return event, policy, select_judgment(JudgmentSettings.from_env(), policy, usage, slot)


def _judgment_fields(record: JudgmentRecord) -> dict[str, Any]:
    """Run-schema fields of a judgment step (tokens and cost of the step, its source)."""
    return {
        "cost_estimate": record.usage.cost,
        "tokens": record.usage.tokens,
        "judgment_source": record.source,
    }


def _judgment_extra(record: JudgmentRecord) -> dict[str, Any]:
    """Log-line extras of a judgment step (never a prompt, an answer or a secret)."""
    return {
        "judgment_reason": record.reason or None,
        "model": record.model,
        "model_calls": record.usage.calls,
        "input_tokens": record.usage.input_tokens,
        "output_tokens": record.usage.output_tokens,
        "model_latency_ms": record.latency_ms,
        "prompt_hash": record.prompt_hash,
    }


@bp.activity_trigger(input_name="payload")
def classify_case(payload: dict[str, Any]) -> dict[str, Any]:
    """Classify the event with the configured judgment; input ``{event, policy_ref (or a whole policy from
    an older orchestrator), judgment_usage?, judgment_slot?}``, output ``{"value": Classification JSON,
    "judgment": JudgmentRecord JSON}``."""
    started = time.perf_counter()
    with span("classify", _fields(payload)) as current:
        event, _, judgment = _judge(payload)
        classification, record = judge_classification(judgment, event)
        fields = _step_fields(
            payload, event, started, risk_class=classification.risk_class, **_judgment_fields(record)
        )
        set_run_fields(current, fields)
        log_step(
            logger,
            "classified",
            fields,
            judgment=judgment.name,
            category=classification.category,
            confidence=classification.confidence,
            **_judgment_extra(record),
        )
    return judged_output(classification, record)


def _assess(specialist: str, payload: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    with span(f"assess_{specialist}", _fields(payload)) as current:
        event, policy, judgment = _judge(payload)
        classification = Classification.model_validate(
            unpack_judged(payload["classification"], "classify")[0]
        )
        assessment, record = judge_assessment(judgment, specialist, event, classification, policy)
        fields = _step_fields(
            payload, event, started, risk_class=classification.risk_class, **_judgment_fields(record)
        )
        set_run_fields(current, fields)
        log_step(
            logger,
            f"assessed_{specialist}",
            fields,
            recommendation=assessment.recommendation,
            confidence=assessment.confidence,
            **_judgment_extra(record),
        )
    return judged_output(assessment, record)


@bp.activity_trigger(input_name="payload")
def assess_policy(payload: dict[str, Any]) -> dict[str, Any]:
    """Policy specialist: does a policy rule cover this event, and does it agree with the judgment?"""
    return _assess("policy", payload)


@bp.activity_trigger(input_name="payload")
def assess_risk(payload: dict[str, Any]) -> dict[str, Any]:
    """Risk specialist: impact of the proposed action (risk class, amounts, missing target)."""
    return _assess("risk", payload)


@bp.activity_trigger(input_name="payload")
def assess_requester_history(payload: dict[str, Any]) -> dict[str, Any]:
    """Requester specialist: who asked (automation, anonymous, self-granted access)."""
    return _assess("requester_history", payload)


@bp.activity_trigger(input_name="payload")
def decide_policy(payload: dict[str, Any]) -> dict[str, Any]:
    """Merge the assessments (declared tie-breaks, provenance kept) and evaluate the policy.

    Input ``{event, classification, assessments, policy_ref}`` (or a whole ``policy``); output
    ``{"merge": MergeResult JSON, "decision": PolicyDecision JSON}``. Running this pure code in an
    activity records its result in the history, so a later code change never alters the decision of a
    case already decided.
    """
    started = time.perf_counter()
    with span("decide_policy", _fields(payload)) as current:
        event, policy = _parse(payload)
        classification = Classification.model_validate(
            unpack_judged(payload["classification"], "classify")[0]
        )
        assessments = [
            Assessment.model_validate(unpack_judged(a, "assess")[0]) for a in payload["assessments"]
        ]
        merged = merge_assessments(assessments, policy.defaults.low_confidence_threshold)
        decision = evaluate(policy, event, classification, merged)
        fields = _step_fields(
            payload,
            event,
            started,
            tool=decision.tool,
            risk_class=decision.risk_class,
            approval_required=decision.approval.rule != "none",
        )
        set_run_fields(current, fields)
        log_step(
            logger,
            "policy_decided",
            fields,
            policy_version=decision.policy_version,
            rule_id=decision.rule_id,
            merge_rule=merged.rule,
        )
    return {"merge": merged.model_dump(mode="json"), "decision": decision.model_dump(mode="json")}
