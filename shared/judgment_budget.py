"""Per-case budget of a model-backed judgment, and the record of one judgment step.

Activities are stateless and orchestrators deterministic, so the case's usage travels as data: the
orchestrator puts the usage so far (:class:`JudgmentUsage`) and the step's :class:`JudgmentSlot` into each
judgment activity's input, the activity checks the policy's ``judgment:`` limits
(``shared.policy.JudgmentBudget``) before every model call (:class:`BudgetGuard`), and returns what it spent
in its :class:`JudgmentRecord`; the orchestrator adds it up (:func:`add_usage`). A call the activity makes
again (its own retry after a timeout, 429 or 5xx) is a call like any other.

Parallel steps (the three specialists) cannot see each other's spending, so the guard reserves: the first
attempt of slot ``i`` of ``n`` is the case's call number ``calls + i + 1``, its retry ``calls + n + i + 1``,
so no two siblings ever count on the same call; tokens and cost left are shared equally among the ``n``
siblings. The sum can therefore never exceed a limit, at the price of some unused budget.

Nothing here does I/O. Activity outputs wrap the typed judgment with its record (:func:`judged_output`);
:func:`unpack_judged` also reads the bare outputs of histories recorded before this module existed.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.case_errors import CaseWorkflowError
from shared.policy import JudgmentBudget

JudgmentSource = Literal["agent", "rules", "rules-fallback"]

#: Output tokens requested at most per model call (the request's ``max_tokens``).
MAX_OUTPUT_TOKENS = 600


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JudgmentUsage(_Model):
    """What a case (or one step) spent on model calls: ``calls`` (HTTP attempts, retries included),
    ``input_tokens`` and ``output_tokens`` as the endpoint reported them, ``cost`` estimated from the
    policy's prices (``tokens / 1000 * price``)."""

    calls: int = Field(ge=0, default=0)
    input_tokens: int = Field(ge=0, default=0)
    output_tokens: int = Field(ge=0, default=0)
    cost: float = Field(ge=0, default=0.0)

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class JudgmentSlot(_Model):
    """Position of a step among steps the orchestrator runs in parallel: ``index`` of ``of``."""

    index: int = Field(ge=0, default=0)
    of: int = Field(ge=1, default=1)


class JudgmentRecord(_Model):
    """How one judgment step was made (audit, telemetry, case view).

    ``source``: ``agent`` (the model's validated answer, bounded by the rules), ``rules`` (the rules judgment
    was selected) or ``rules-fallback`` (the agent was selected but this step took the rules judgment);
    ``reason``: why (fallback cause, or what the boundary changed; empty when nothing to say); ``model``:
    model or Azure deployment id; ``endpoint``: ``azure`` | ``openai`` | None; ``prompt_hash``: SHA-256 of
    the prompt template (instructions + schema, without the event); ``usage``: what this step spent;
    ``latency_ms``: wall time of the model calls in milliseconds."""

    step: str
    source: JudgmentSource
    reason: str = ""
    model: str | None = None
    endpoint: str | None = None
    prompt_hash: str | None = None
    usage: JudgmentUsage = JudgmentUsage()
    latency_ms: float = 0.0


class BudgetExhausted(CaseWorkflowError):
    """A model call would exceed the case's judgment budget; ``limit`` names the policy key."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def estimate_tokens(text: str) -> int:
    """A conservative token estimate of ``text`` (one token per 3 characters, rounded up)."""
    return math.ceil(len(text) / 3)


def cost_of(budget: JudgmentBudget, input_tokens: int, output_tokens: int) -> float:
    """Estimated cost of ``input_tokens`` + ``output_tokens`` at the policy's prices per 1,000 tokens."""
    return input_tokens / 1000 * budget.price_per_1k_input + output_tokens / 1000 * budget.price_per_1k_output


def add_usage(a: JudgmentUsage, b: JudgmentUsage) -> JudgmentUsage:
    """The sum of two usages (cost rounded to 1e-9)."""
    return JudgmentUsage(
        calls=a.calls + b.calls,
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cost=round(a.cost + b.cost, 9),
    )


class BudgetGuard:
    """Checks one step's model calls against the case budget (see the module docstring).

    ``case`` is the usage of the case before this step, ``slot`` the step's place among parallel siblings.
    :meth:`admit` is called before each call and raises :class:`BudgetExhausted`; :meth:`spend` records a
    finished (or failed) call. ``step`` is the usage of this step so far.
    """

    def __init__(self, budget: JudgmentBudget, case: JudgmentUsage, slot: JudgmentSlot) -> None:
        self.budget = budget
        self.case = case
        self.slot = slot
        self.step = JudgmentUsage()

    def output_tokens_allowed(self, prompt_tokens: int) -> int:
        """Output tokens a call may request: :data:`MAX_OUTPUT_TOKENS`, less when the step's share of the
        token budget is smaller (at least 1)."""
        left = self._share(self.budget.max_tokens - self.case.tokens) - self.step.tokens - prompt_tokens
        return max(1, min(MAX_OUTPUT_TOKENS, int(left)))

    def _share(self, left: float) -> float:
        return max(0.0, left) / self.slot.of

    def admit(self, prompt_tokens: int, attempt: int) -> None:
        """Allow attempt ``attempt`` (0 first, 1 retry) of a call whose prompt is about ``prompt_tokens``
        tokens, or raise :class:`BudgetExhausted` naming the limit."""
        b, case = self.budget, self.case
        number = case.calls + attempt * self.slot.of + self.slot.index + 1
        if number > b.max_calls:
            raise BudgetExhausted(
                "max_calls",
                f"judgment budget max_calls={b.max_calls} exhausted "
                f"(this would be model call {number} of the case)",
            )
        token_share = self._share(b.max_tokens - case.tokens)
        need = self.step.tokens + prompt_tokens + 1  # room for the prompt and an answer
        if need > token_share:
            raise BudgetExhausted(
                "max_tokens",
                f"judgment budget max_tokens={b.max_tokens} exhausted ({case.tokens} used by the case, "
                f"~{prompt_tokens} needed by this call)",
            )
        cost_share = self._share(b.max_cost - case.cost)
        expected = self.step.cost + cost_of(b, prompt_tokens, self.output_tokens_allowed(prompt_tokens))
        if cost_share <= 0 or expected > cost_share:
            raise BudgetExhausted(
                "max_cost",
                f"judgment budget max_cost={b.max_cost:g} exhausted ({case.cost:.6f} spent by the case, "
                f"~{expected:.6f} needed by this step)",
            )

    def spend(self, input_tokens: int, output_tokens: int) -> None:
        """Count one call (made, whatever its answer) with the tokens the endpoint reported."""
        cost = cost_of(self.budget, input_tokens, output_tokens)
        self.step = add_usage(
            self.step,
            JudgmentUsage(calls=1, input_tokens=input_tokens, output_tokens=output_tokens, cost=cost),
        )


def compact_record(record: JudgmentRecord) -> dict[str, Any]:
    """``record``'s JSON without the fields at their defaults (``{"step": "classify", "source": "rules"}``
    for a rules step): what judgment outputs and decide's audit template carry in the history; it reads
    back (``JudgmentRecord.model_validate``) as the same record."""
    return record.model_dump(mode="json", exclude_defaults=True)


def expand_judgment_audit(judgment: dict[str, Any]) -> dict[str, Any]:
    """The case's judgment audit data (summary + ``records``) with every record in full JSON again, as the
    audit trail has always stored it (records given compact by :func:`compact_record` or in full). A
    template of only ``records`` and ``usage`` (the case's usage, failed attempts' charges included;
    orchestration version 5.0) gets its summary computed here (:func:`summarize`), as the orchestrator
    computes it (``JudgmentTally.summary``)."""
    records = judgment.get("records")
    if not isinstance(records, list):
        return judgment
    parsed = [JudgmentRecord.model_validate(r) for r in records]
    full = [r.model_dump(mode="json") for r in parsed]
    if set(judgment) == {"records", "usage"}:
        return {**summarize(parsed, JudgmentUsage.model_validate(judgment["usage"])), "records": full}
    return {**judgment, "records": full}


def judged_output(value: BaseModel, record: JudgmentRecord) -> dict[str, Any]:
    """A judgment activity's output: ``{"value": <typed judgment JSON>, "judgment": <record JSON>}``."""
    return {"value": value.model_dump(mode="json"), "judgment": record.model_dump(mode="json")}


def unpack_judged(output: Any, step: str) -> tuple[Any, JudgmentRecord]:
    """Split a judgment activity's output into the judgment JSON and its :class:`JudgmentRecord`.

    Outputs recorded before judgment records existed (the bare judgment JSON) read as ``source=rules``;
    ``classify_case`` may add ``policy`` (the policy it loaded, orchestration version 3.0), not split here.
    Deterministic and I/O free (orchestrators call it)."""
    if isinstance(output, dict) and {"value", "judgment"} <= set(output) <= {"value", "judgment", "policy"}:
        return output["value"], JudgmentRecord.model_validate(output["judgment"])
    return output, JudgmentRecord(step=step, source="rules")


def summarize(records: list[JudgmentRecord], total: JudgmentUsage | None = None) -> dict[str, Any]:
    """The case's judgment summary (custom status, case view, audit): ``source`` (``rules-fallback`` when
    any step fell back, else ``agent`` when any step used the model, else ``rules``), ``model``,
    ``tokens``, ``calls``, ``cost`` (``total`` when given: the case's usage including calls charged for
    failed attempts; else the records' sum) and the per-step ``steps`` (step, source, reason)."""
    if total is None:
        total = JudgmentUsage()
        for record in records:
            total = add_usage(total, record.usage)
    sources = {r.source for r in records}
    source = "rules-fallback" if "rules-fallback" in sources else "agent" if "agent" in sources else "rules"
    model = next((r.model for r in records if r.model), None)
    reasons = [f"{r.step}: {r.reason}" for r in records if r.reason]
    return {
        "source": source,
        "model": model,
        "tokens": total.tokens,
        "calls": total.calls,
        "cost": total.cost,
        "reason": "; ".join(reasons)[:1000],
        "steps": [{"step": r.step, "source": r.source, "reason": r.reason} for r in records],
    }


class JudgmentTally:
    """The case's judgment bookkeeping inside the orchestrator: usage so far (``usage``), one
    :class:`JudgmentRecord` per judged step (``records``) and the attempts of each step. Deterministic and
    I/O free: it only adds up what the activities reported."""

    def __init__(self) -> None:
        self.usage = JudgmentUsage()
        self.records: list[JudgmentRecord] = []
        self._attempts: dict[str, int] = {}

    def step_input(self, step: str, index: int, of: int) -> dict[str, Any]:
        """Activity input keys of slot ``index`` of ``of`` of judgment step ``step``: ``judgment_usage``
        (the case's model usage so far, without its zero fields; absent before any model call) and
        ``judgment_slot`` (absent for slot 0 of 1: the activity's default). Called again for each attempt
        of the step: a failed attempt's output, and with it what its model calls spent, is lost, so each
        retry first charges the most that attempt could have called (two calls per slot, module
        docstring)."""
        if index == 0:
            self._attempts[step] = self._attempts.get(step, 0) + 1
            if self._attempts[step] > 1:
                self.usage = add_usage(self.usage, JudgmentUsage(calls=2 * of))
        # without what the activity assumes when absent: no usage before any model call, slot 0 of 1
        usage = self.usage.model_dump(mode="json", exclude_defaults=True)
        keys: dict[str, Any] = {"judgment_usage": usage} if usage else {}
        if (index, of) != (0, 1):
            keys["judgment_slot"] = {"index": index, "of": of}
        return keys

    def add(self, record: JudgmentRecord) -> None:
        """Keep a judged step's record and add its usage to the case's."""
        self.records.append(record)
        self.usage = add_usage(self.usage, record.usage)

    def summary(self) -> dict[str, Any]:
        """:func:`summarize` of the records with the case's usage (failed attempts' charges included)."""
        return summarize(self.records, self.usage)
