"""Activities that judge and decide a case: load the policy, classify, assess (three specialists), decide.

From orchestration version 3.0 the case loads the policy in ``classify_case`` (one activity and one episode
less per case); ``load_policy`` stays for instances started before. From version 7.0 the three specialists
run in one ``assess_case`` activity (two activity executions less per case); ``assess_policy``,
``assess_risk`` and ``assess_requester_history`` stay for instances started before.

Each is one business action with a typed input and output (``shared/contracts/steps.py``) and runs in
``@case_step`` (``activities/step.py``: input validated at entry, span ``case.<step>`` with the run-schema
attributes, one run-schema log line, the output's JSON returned). They read app settings here, at the edge
(``AppSettings.current()``, ``JudgmentSettings.from_env``), and call plain code in ``shared/``.

The judgment steps (classify, assess_*) use the judgment ``CASE_JUDGMENT`` selects (``shared/judging.py``).
Their input may carry ``judgment_usage`` (what the case spent on model calls so far) and ``judgment_slot``
(place among parallel steps), their output is ``{"value": <Classification | Assessment JSON>, "judgment":
<JudgmentRecord JSON>}`` (``shared/judgment_budget.py``); model calls happen only here, so a replay reads
the recorded result and never calls the model again.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor, wait

import azure.durable_functions as df

from activities.step import Step, case_step
from shared import policy_store
from shared.contracts.steps import (
    AssessCaseInput,
    Assessed,
    AssessedCase,
    AssessInput,
    Classified,
    ClassifyInput,
    Decided,
    DecideInput,
    LoadPolicyInput,
    PolicyLoaded,
)
from shared.judging import judge_assessment, judge_classification, select_judgment
from shared.judgment_budget import (
    JudgmentRecord,
    JudgmentSlot,
    JudgmentUsage,
    expand_judgment_audit,
    summarize,
)
from shared.judgment_settings import JudgmentSettings
from shared.merge import merge_assessments
from shared.policy import PolicyDocument, evaluate
from shared.policy_ref import load_result
from shared.settings import AppSettings

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
@case_step("load_policy", LoadPolicyInput, done="policy_loaded")
def load_policy(payload: LoadPolicyInput, step: Step) -> PolicyLoaded:
    """Load the policy file (app setting ``CASE_POLICY_PATH``, default the shipped one; parsed once per
    process, ``shared/policy_store.py``) and return a reference for the orchestrator
    (:class:`PolicyLoaded`: version, digest, default retry and budgets; ``shared/policy_ref.py``).
    Input :class:`LoadPolicyInput` (its ids only label the log line and span).
    Raises ``PolicyError`` when the file is missing or invalid."""
    policy, digest = policy_store.current(AppSettings.current())
    step.note(policy_version=policy.version, policy_digest=digest)
    return PolicyLoaded.model_validate(load_result(policy, digest))


def _policy(payload: ClassifyInput | AssessInput | DecideInput) -> PolicyDocument:
    return policy_store.policy_for(payload.policy_ref, payload.policy, AppSettings.current())


def _judgment(payload: ClassifyInput | AssessInput, policy: PolicyDocument):
    """The judgment selected for this step (usage so far and slot from the input)."""
    usage = payload.judgment_usage or JudgmentUsage()
    slot = payload.judgment_slot or JudgmentSlot()
    return select_judgment(JudgmentSettings.from_env(), policy, usage, slot)


def _judged(step: Step, record: JudgmentRecord, risk_class: str) -> None:
    """Run fields (tokens and cost of the step, its source) and log-line extras of a judgment step (never a
    prompt, an answer or a secret)."""
    step.learn(
        risk_class=risk_class,
        cost_estimate=record.usage.cost,
        tokens=record.usage.tokens,
        judgment_source=record.source,
    )
    step.note(
        judgment_reason=record.reason or None,
        model=record.model,
        model_calls=record.usage.calls,
        input_tokens=record.usage.input_tokens,
        output_tokens=record.usage.output_tokens,
        model_latency_ms=record.latency_ms,
        prompt_hash=record.prompt_hash,
    )


@bp.activity_trigger(input_name="payload")
@case_step("classify", ClassifyInput, done="classified")
def classify_case(payload: ClassifyInput, step: Step) -> Classified:
    """Classify the event with the configured judgment; input :class:`ClassifyInput`, output
    :class:`Classified` (``{"value": Classification, "judgment": JudgmentRecord}``). An input naming no
    policy (orchestration version 3.0) loads the current one as ``load_policy`` does and returns its
    reference with the classification (``policy``: :class:`PolicyLoaded`). Raises ``PolicyError`` when the
    policy file is missing or invalid, or a reference no longer resolves."""
    loaded: dict[str, PolicyLoaded] = {}
    if payload.policy_ref is None and payload.policy is None:
        policy, digest = policy_store.current(AppSettings.current())
        step.note(policy_version=policy.version, policy_digest=digest)
        loaded["policy"] = PolicyLoaded.model_validate(load_result(policy, digest))
    else:
        policy = _policy(payload)
    judgment = _judgment(payload, policy)
    classification, record = judge_classification(judgment, payload.event)
    step.note(judgment=judgment.name, category=classification.category, confidence=classification.confidence)
    _judged(step, record, classification.risk_class)
    return Classified(value=classification, judgment=record, **loaded)


def _assess(specialist: str, payload: AssessInput, step: Step) -> Assessed:
    policy = _policy(payload)
    classification = payload.classification
    assessment, record = judge_assessment(
        _judgment(payload, policy), specialist, payload.event, classification, policy
    )
    step.note(recommendation=assessment.recommendation, confidence=assessment.confidence)
    _judged(step, record, classification.risk_class)
    return Assessed(value=assessment, judgment=record)


@bp.activity_trigger(input_name="payload")
@case_step("assess_policy", AssessInput, done="assessed_policy")
def assess_policy(payload: AssessInput, step: Step) -> Assessed:
    """Policy specialist: does a policy rule cover this event, and does it agree with the judgment?"""
    return _assess("policy", payload, step)


@bp.activity_trigger(input_name="payload")
@case_step("assess_risk", AssessInput, done="assessed_risk")
def assess_risk(payload: AssessInput, step: Step) -> Assessed:
    """Risk specialist: impact of the proposed action (risk class, amounts, missing target)."""
    return _assess("risk", payload, step)


@bp.activity_trigger(input_name="payload")
@case_step("assess_requester_history", AssessInput, done="assessed_requester_history")
def assess_requester_history(payload: AssessInput, step: Step) -> Assessed:
    """Requester specialist: who asked (automation, anonymous, self-granted access)."""
    return _assess("requester_history", payload, step)


#: Threads judging the specialists of one ``assess_case`` side by side when the judgment is the agent (its
#: model calls wait on the network; three at a time per step, a busy pool queues them, never fails them).
_SPECIALIST_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="case-specialist")


@bp.activity_trigger(input_name="payload")
@case_step("assess_case", AssessCaseInput, done="assessed_case")
def assess_case(payload: AssessCaseInput, step: Step) -> AssessedCase:
    """The specialists of the case in one activity (orchestration version 7.0; ``assess_policy``,
    ``assess_risk`` and ``assess_requester_history`` stay for older instances).

    Input :class:`AssessCaseInput` (event, classification and policy reference once, then each
    specialist's name and judgment slot); output :class:`AssessedCase`: one :class:`Assessed` per
    specialist in the input's order, each what its own ``assess_*`` step returns for the same slot. Each
    specialist keeps its span ``case.assess_<name>`` (a child of ``case.assess_case``) and its log line
    ``assessed_<name>`` (:meth:`Step.part`); the step's own line and span carry the specialists' summed
    tokens and cost and the summary source (``shared.judgment_budget.summarize``). With the agent judgment
    (``CASE_JUDGMENT=agent``) the specialists run side by side on a small thread pool (their model calls
    overlap: the step takes about one specialist's latency, not three); with rules one after the other.
    Raises the first failure in the specialists' order once all have finished (the step fails as a whole,
    the orchestrator retries it as one); ``PolicyError`` as the ``assess_*`` steps."""

    def one(index: int) -> Assessed:
        name = payload.specialists[index].specialist
        with step.part(f"assess_{name}", f"assessed_{name}") as part:
            return _assess(name, payload.specialist_input(index), part)

    indexes = range(len(payload.specialists))
    if JudgmentSettings.from_env().mode == "agent" and len(indexes) > 1:
        futures = [_SPECIALIST_POOL.submit(contextvars.copy_context().run, one, i) for i in indexes]
        wait(futures)  # every specialist ends (span, line) before the step does, failed or not
        assessed = [future.result() for future in futures]
    else:
        assessed = [one(i) for i in indexes]
    summary = summarize([a.judgment for a in assessed])
    step.learn(
        risk_class=payload.classification.risk_class,
        cost_estimate=summary["cost"],
        tokens=summary["tokens"],
        judgment_source=summary["source"],
    )
    step.note(
        recommendations={a.value.specialist: a.value.recommendation for a in assessed},
        model_calls=summary["calls"],
    )
    return AssessedCase(assessed=assessed)


@bp.activity_trigger(input_name="payload")
@case_step("decide_policy", DecideInput, done="policy_decided", audit_after_body=True)
def decide_policy(payload: DecideInput, step: Step) -> Decided:
    """Merge the assessments (declared tie-breaks, provenance kept) and evaluate the policy.

    Input :class:`DecideInput`; output :class:`Decided` (``{"merge": MergeResult, "decision":
    PolicyDecision}``). Running this pure code in an activity records its result in the history, so a
    later code change never alters the decision of a case already decided. With a ``record`` in the input
    (orchestration version 4.0) the step completes the case's ``classified`` record with the
    classification, merge and decision and appends it after the records riding in ``audit``, in one batch
    (``@case_step``; idempotent per record id), and names it in ``recorded``. With a ``ready`` record too
    (version 8.0) and a decision that needs no approval, it appends that ``ready_to_apply`` record after the
    ``classified`` one in the same batch and names it in ``ready_recorded``. Raises ``PolicyError``;
    ``StorageUnavailable`` when the append fails (transient: the orchestrator retries the step).
    """
    policy = _policy(payload)
    merged = merge_assessments(payload.assessments, policy.defaults.low_confidence_threshold)
    decision = evaluate(policy, payload.event, payload.classification, merged)
    step.learn(
        tool=decision.tool,
        risk_class=decision.risk_class,
        approval_required=decision.approval.rule != "none",
    )
    step.note(policy_version=decision.policy_version, rule_id=decision.rule_id, merge_rule=merged.rule)
    if payload.record is None:
        return Decided(merge=merged, decision=decision)
    body = payload.to_json()
    record = payload.record.filled(body)  # its id relative to the case (version 5.0)
    data = {
        **record.data,
        "judgment": expand_judgment_audit(record.data.get("judgment") or {}),
        "classification": payload.classification.model_dump(mode="json"),
        "merge": merged.model_dump(mode="json"),
        "decision": decision.model_dump(mode="json"),
    }
    step.record(record.model_copy(update={"data": data}))
    ready = None
    if payload.ready is not None and decision.approval.rule == "none":  # the stage the case enters next,
        ready = payload.ready.filled(body)  # on the trail before apply_action runs
        step.record(ready)
    # the merge's provenance (inputs) is on the audit record just appended: not copied into the output
    brief = merged.model_copy(update={"inputs": []})
    return Decided(
        merge=brief,
        decision=decision,
        recorded=record.record_id,
        ready_recorded=ready.record_id if ready is not None else None,
    )

