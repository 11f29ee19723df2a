"""Activities that judge and decide a case: load the policy, classify, assess (three specialists), decide.

Each is one business action with a JSON input and output (shapes in ``shared/contracts/case.py``). They
read app settings here, at the edge (``AppSettings.current()``), and call plain code in ``shared/``; every
step runs in a span ``case.<step>`` with the run-schema attributes and writes one run-schema log line
(``shared.telemetry``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import azure.durable_functions as df

from shared import policy_store
from shared.contracts.case import Assessment, Classification
from shared.contracts.event import BusinessEvent
from shared.judgment import default_judgment, validated_assessment, validated_classification
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


def _judge(payload: dict[str, Any]):
    event = BusinessEvent.model_validate(payload["event"])
    policy = policy_store.policy_for(payload, AppSettings.current())
    return event, policy, default_judgment(policy)


@bp.activity_trigger(input_name="payload")
def classify_case(payload: dict[str, Any]) -> dict[str, Any]:
    """Classify the event with the configured judgment; input ``{event, policy_ref}`` (or a whole ``policy``
    from an older orchestrator), output
    :class:`Classification` JSON (validated like any input)."""
    started = time.perf_counter()
    with span("classify", _fields(payload)) as current:
        event, _, judgment = _judge(payload)
        classification = validated_classification(judgment.classify(event))
        fields = _step_fields(
            payload, event, started, risk_class=classification.risk_class, cost_estimate=0.0
        )
        set_run_fields(current, fields)
        log_step(
            logger,
            "classified",
            fields,
            judgment=judgment.name,
            category=classification.category,
            confidence=classification.confidence,
        )
    return classification.model_dump(mode="json")


def _assess(specialist: str, payload: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    with span(f"assess_{specialist}", _fields(payload)) as current:
        event, policy, judgment = _judge(payload)
        classification = Classification.model_validate(payload["classification"])
        assessment = validated_assessment(judgment.assess(specialist, event, classification, policy))
        fields = _step_fields(
            payload, event, started, risk_class=classification.risk_class, cost_estimate=0.0
        )
        set_run_fields(current, fields)
        log_step(
            logger,
            f"assessed_{specialist}",
            fields,
            recommendation=assessment.recommendation,
            confidence=assessment.confidence,
        )
    return assessment.model_dump(mode="json")


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
        event, policy, _ = _judge(payload)
        classification = Classification.model_validate(payload["classification"])
        assessments = [Assessment.model_validate(a) for a in payload["assessments"]]
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
