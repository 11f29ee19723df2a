"""Judgment by an agent: Microsoft Agent Framework behind the typed boundary.

:class:`AgentJudgment` implements :class:`shared.judgment.Judgment` with one classifier agent and one agent
per specialist (``agent_framework.Agent``), each with narrow instructions (``shared/judgment_prompts.py``),
no tools, and structured output requested as the JSON schema of the pydantic contract through the Chat
Completions ``response_format`` (``agent_framework.openai.OpenAIChatCompletionClient`` of
agent-framework-openai 1.17, which wraps a raw schema as ``{"type": "json_schema", "json_schema": {"name",
"schema", "strict": true}}``; the schema is the contract's, reduced to what strict mode accepts:
``judgment_prompts.response_schema``).
The OpenAI SDK client under it is built here with ``max_retries=0`` so that every HTTP attempt is ours to
count and bound: at most one retry (after a timeout, a connection error, HTTP 429 or 5xx), each attempt
admitted by the per-case :class:`shared.judgment_budget.BudgetGuard` first, each bounded by the policy's
``judgment.timeout_s`` (``asyncio.wait_for``).

The boundary, enforced in code after the model answered:

* the answer is validated like any inbound data (``validated_classification`` / ``validated_assessment``);
* the classification's action must be one the policy knows (a rule's or the fallback's action);
* its risk class is raised back to the rules' estimate when lower (the policy's "may raise, never lower");
* an assessment only feeds the deterministic merge (``shared/merge.py``); the policy still decides.

Invalid output, a refusal, a timeout or an HTTP error after the retry, an exhausted budget or a
misconfigured endpoint → the rules judgment for that step, ``source="rules-fallback"`` with the reason.
After each call, :attr:`AgentJudgment.record` says how that step was judged. Model calls happen only in
activities (the result is the activity output, so a replay never calls the model). Sources: Agent Framework
Python API (``Agent.run(..., options={"response_format": Model})``, ``AgentResponse.value``,
``usage_details``) as installed; https://learn.microsoft.com/agent-framework/.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import openai
from pydantic import BaseModel, ValidationError

from shared.contracts.case import RISK_ORDER, Assessment, Classification
from shared.contracts.event import BusinessEvent
from shared.judgment import RulesJudgment, validated_assessment, validated_classification
from shared.judgment_budget import (
    BudgetExhausted,
    BudgetGuard,
    JudgmentRecord,
    JudgmentSlot,
    JudgmentSource,
    JudgmentUsage,
    estimate_tokens,
)
from shared.judgment_prompts import (
    classifier_instructions,
    classifier_message,
    prompt_hash,
    response_schema,
    specialist_instructions,
    specialist_message,
)
from shared.judgment_settings import JudgmentSettings
from shared.policy import PolicyDocument, match_rule

logger = logging.getLogger("case_workflow.judgment")

AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
#: Longest wait honoured from a 429's Retry-After before the one retry (seconds).
MAX_RETRY_WAIT_S = 2.0
_token_provider: Callable[[], str] | None = None


class _Fallback(Exception):
    """This step takes the rules judgment; the message is the recorded reason."""


def _azure_token_provider() -> Callable[[], str]:
    """A bearer-token provider from ``DefaultAzureCredential`` (one per process; tokens are cached)."""
    global _token_provider
    if _token_provider is None:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        _token_provider = get_bearer_token_provider(DefaultAzureCredential(), AZURE_SCOPE)
    return _token_provider


def build_openai_client(settings: JudgmentSettings, timeout_s: float) -> openai.AsyncOpenAI:
    """The OpenAI SDK client for ``settings`` with SDK retries off and a ``timeout_s`` (+1 s) HTTP timeout.

    Azure: ``AsyncAzureOpenAI`` with the API key when set, else a ``DefaultAzureCredential`` token provider.
    OpenAI-compatible: ``AsyncOpenAI`` at ``base_url`` (a placeholder key when none is set)."""
    if settings.endpoint == "azure":
        auth: dict[str, Any] = (
            {"api_key": settings.azure_api_key}
            if settings.azure_api_key
            else {"azure_ad_token_provider": _azure_token_provider()}
        )
        return openai.AsyncAzureOpenAI(
            azure_endpoint=settings.azure_endpoint or "",
            azure_deployment=settings.azure_deployment,
            api_version=settings.azure_api_version,
            max_retries=0,
            timeout=timeout_s + 1,
            **auth,
        )
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key or "not-needed",
        max_retries=0,
        timeout=timeout_s + 1,
    )


def _failure(exc: BaseException, timeout_s: float) -> tuple[str, bool, float]:
    """(reason, retryable, wait in s) for an exception of a model call; walks the cause chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, asyncio.TimeoutError | TimeoutError | openai.APITimeoutError):
            return f"no answer within timeout_s={timeout_s:g}", True, 0.0
        if isinstance(seen, openai.APIStatusError):
            code = seen.status_code
            wait = 0.2
            if code == 429:
                try:
                    wait = float(seen.response.headers.get("retry-after", "0.2"))
                except ValueError:
                    wait = 0.2
            return (
                f"HTTP {code} from the model endpoint",
                code == 429 or code >= 500,
                min(max(wait, 0.0), MAX_RETRY_WAIT_S),
            )
        if isinstance(seen, openai.APIConnectionError):
            return "cannot reach the model endpoint", True, 0.2
        seen = seen.__cause__ or getattr(seen, "inner_exception", None) or seen.__context__
    return f"model call failed ({type(exc).__name__})", False, 0.0


def _refused(response: Any) -> bool:
    for message in getattr(response, "messages", []) or []:
        for content in message.contents:
            props = content.additional_properties or {}
            if (
                props.get("model_output_kind") == "refusal"
                or (props.get("core") or {}).get("model_output_kind") == "refusal"
            ):
                return True
    return getattr(response, "finish_reason", None) == "content_filter"


def _usage(response: Any) -> tuple[int, int]:
    details = getattr(response, "usage_details", None) or {}
    return int(details.get("input_token_count") or 0), int(details.get("output_token_count") or 0)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "<answer>"
    return f"{where}: {err.get('msg', 'invalid')}"


class AgentJudgment:
    """The agent judgment for one case step (see the module docstring).

    ``settings`` names the endpoint; ``policy`` gives the allowed actions, the budget (``policy.judgment``)
    and the rules' ``large_amount``; ``usage`` is what the case spent before this step and ``slot`` its place
    among parallel steps. ``client_factory`` (tests) replaces :func:`build_openai_client`. After
    :meth:`classify` or :meth:`assess`, :attr:`record` is that step's :class:`JudgmentRecord`. Never raises
    for a model problem: it falls back to :class:`RulesJudgment` and says why.
    """

    name = "agent"

    def __init__(
        self,
        settings: JudgmentSettings,
        policy: PolicyDocument,
        usage: JudgmentUsage | None = None,
        slot: JudgmentSlot | None = None,
        client_factory: Callable[[JudgmentSettings, float], openai.AsyncOpenAI] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.usage = usage or JudgmentUsage()
        self.slot = slot or JudgmentSlot()
        self.rules = RulesJudgment(large_amount=policy.thresholds.get("large_amount", 10000.0))
        self.client_factory = client_factory or build_openai_client
        self.record: JudgmentRecord | None = None

    # -- the Judgment protocol ----------------------------------------------------------------------------
    def classify(self, event: BusinessEvent) -> Classification:
        """Classify ``event`` with the classifier agent, bounded by the rules' estimate (see module)."""
        baseline = self.rules.classify(event)
        actions = self._allowed_actions()

        def accept(raw: Any) -> tuple[Classification, str]:
            answer = validated_classification(raw)
            if answer.action not in actions:
                raise _Fallback(f"invalid output: action {answer.action!r} is not an action of the policy")
            if RISK_ORDER.index(answer.risk_class) < RISK_ORDER.index(baseline.risk_class):
                note = (
                    f"model risk class {answer.risk_class} is below the rules' estimate "
                    f"{baseline.risk_class}: kept {baseline.risk_class}"
                )
                return answer.model_copy(update={"risk_class": baseline.risk_class}), note
            return answer, ""

        return self._judge(
            "classify",
            classifier_instructions(actions),
            classifier_message(event),
            Classification,
            accept,
            baseline,
        )

    def assess(
        self, specialist: str, event: BusinessEvent, classification: Classification, policy: PolicyDocument
    ) -> Assessment:
        """One specialist's assessment from its agent; it only feeds the deterministic merge."""
        baseline = self.rules.assess(specialist, event, classification, policy)
        rule = match_rule(policy, event)
        context = (
            f"no rule covers {event.type}; the policy falls back to {rule.action}"
            if rule is policy.fallback
            else f"rule {rule.id} maps {event.type} to action {rule.action} with tool {rule.tool}"
        )

        def accept(raw: Any) -> tuple[Assessment, str]:
            answer = validated_assessment(raw)
            if answer.specialist != specialist:
                answer = answer.model_copy(update={"specialist": specialist})
            return answer, ""

        return self._judge(
            specialist,
            specialist_instructions(specialist),
            specialist_message(event, classification, context),
            Assessment,
            accept,
            baseline,
        )

    # -- the call -----------------------------------------------------------------------------------------
    def _allowed_actions(self) -> list[str]:
        seen: list[str] = []
        for rule in [*self.policy.rules, self.policy.fallback]:
            if rule.action not in seen:
                seen.append(rule.action)
        return seen

    def _judge(
        self,
        step: str,
        instructions: str,
        message: str,
        contract: type[BaseModel],
        accept: Callable[[Any], tuple[Any, str]],
        baseline: Any,
    ) -> Any:
        guard = BudgetGuard(self.policy.judgment, self.usage, self.slot)
        started = time.perf_counter()
        source: JudgmentSource
        try:
            if self.settings.problem:
                raise _Fallback(f"agent judgment misconfigured: {self.settings.problem}")
            raw = self._call(guard, instructions, message, contract)
            value, note = accept(raw)
            source, reason = "agent", note
        except _Fallback as exc:
            value, source, reason = baseline, "rules-fallback", str(exc)
        except ValidationError as exc:
            value, source, reason = baseline, "rules-fallback", f"invalid output: {_first_error(exc)}"
        except Exception as exc:  # never let a model problem fail the step: the rules decide instead
            value, source, reason = baseline, "rules-fallback", f"unexpected error ({type(exc).__name__})"
        self.record = JudgmentRecord(
            step=step,
            model=self.settings.model_id,
            endpoint=self.settings.endpoint,
            prompt_hash=prompt_hash(step),
            source=source,
            reason=reason[:500],
            usage=guard.step,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        if source == "rules-fallback":
            logger.warning("judgment step %s fell back to rules: %s", step, self.record.reason)
        return value

    def _call(self, guard: BudgetGuard, instructions: str, message: str, contract: type[BaseModel]) -> Any:
        prompt_tokens = estimate_tokens(instructions + message) + 200  # + the response schema
        return asyncio.run(self._attempts(guard, instructions, message, contract, prompt_tokens))

    async def _attempts(
        self,
        guard: BudgetGuard,
        instructions: str,
        message: str,
        contract: type[BaseModel],
        prompt_tokens: int,
    ) -> Any:
        from agent_framework import Agent
        from agent_framework.openai import OpenAIChatCompletionClient

        timeout_s = self.policy.judgment.timeout_s
        client = self.client_factory(self.settings, timeout_s)
        chat = OpenAIChatCompletionClient(model=self.settings.model_id, async_client=client)
        agent = Agent(client=chat, instructions=instructions, name="case-judgment", tools=None)
        last = ""
        try:
            for attempt in (0, 1):
                try:
                    guard.admit(prompt_tokens, attempt)
                except BudgetExhausted as exc:
                    raise _Fallback(str(exc) if attempt == 0 else f"{last} (no retry: {exc})") from exc
                options: Any = {
                    "response_format": response_schema(contract),
                    "max_tokens": guard.output_tokens_allowed(prompt_tokens),
                    "temperature": 0,
                }
                try:
                    response = await asyncio.wait_for(agent.run(message, options=options), timeout=timeout_s)
                except Exception as exc:
                    guard.spend(0, 0)
                    last, retryable, wait = _failure(exc, timeout_s)
                    if not retryable or attempt == 1:
                        raise _Fallback(last + (" after one retry" if attempt == 1 else "")) from exc
                    await asyncio.sleep(wait)
                    continue
                guard.spend(*_usage(response))
                if _refused(response):
                    raise _Fallback("the model refused to answer")
                try:
                    value = response.value
                except ValidationError:
                    raise
                except ValueError as exc:
                    raise _Fallback(f"invalid output: {exc}") from exc
                if value is None:
                    raise _Fallback("invalid output: empty answer")
                return value
        finally:
            await client.close()
        raise _Fallback("no answer")
