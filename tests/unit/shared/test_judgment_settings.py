"""CASE_JUDGMENT and the model endpoint settings: parsing, the one start-up report, no secret in it."""

from __future__ import annotations

import logging

import pytest

from shared.judgment_budget import BudgetExhausted, BudgetGuard, JudgmentSlot, JudgmentUsage, summarize
from shared.judgment_budget import JudgmentRecord as Record
from shared.judgment_settings import JudgmentSettings, startup_report
from shared.policy import JudgmentBudget


def test_rules_is_the_default():
    assert JudgmentSettings.from_env({}).mode == "rules"
    assert JudgmentSettings.from_env({"CASE_JUDGMENT": " "}).describe() == "judgment: rules"


def test_openai_compatible_endpoint():
    s = JudgmentSettings.from_env(
        {"CASE_JUDGMENT": "agent", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "llama3.1"}
    )
    assert (s.mode, s.endpoint, s.model_id, s.problem) == ("agent", "openai", "llama3.1", None)


def test_azure_wins_and_defaults_to_default_azure_credential():
    s = JudgmentSettings.from_env(
        {
            "CASE_JUDGMENT": "agent",
            "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
            "AZURE_OPENAI_DEPLOYMENT": "judge",
            "OPENAI_BASE_URL": "http://ignored/v1",
            "OPENAI_MODEL": "ignored",
        }
    )
    assert (s.endpoint, s.model_id, s.azure_api_version) == ("azure", "judge", "2024-10-21")
    assert "DefaultAzureCredential" in s.describe()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CASE_JUDGMENT": "llm"}, "neither 'rules' nor 'agent'"),
        ({"CASE_JUDGMENT": "agent"}, "missing: OPENAI_BASE_URL, OPENAI_MODEL"),
        ({"CASE_JUDGMENT": "agent", "AZURE_OPENAI_ENDPOINT": "https://x"}, "AZURE_OPENAI_DEPLOYMENT is not"),
        ({"CASE_JUDGMENT": "agent", "OPENAI_BASE_URL": "ftp://x", "OPENAI_MODEL": "m"}, "http(s) URL"),
    ],
)
def test_misconfiguration_is_a_problem_not_an_exception(env, fragment):
    s = JudgmentSettings.from_env(env)
    assert s.mode == "agent" and s.endpoint is None and fragment in (s.problem or "")


def test_startup_report_is_one_line_and_never_names_a_key(caplog):
    env = {
        "CASE_JUDGMENT": "agent",
        "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
        "AZURE_OPENAI_DEPLOYMENT": "judge",
        "AZURE_OPENAI_API_KEY": "azure-key-123",
    }
    with caplog.at_level(logging.INFO):
        startup_report(logging.getLogger("test.judgment"), env)
        startup_report(logging.getLogger("test.judgment"), {"CASE_JUDGMENT": "agent"})
    first, second = caplog.records
    assert first.levelno == logging.INFO and "deployment judge" in first.getMessage()
    assert second.levelno == logging.ERROR and "MISCONFIGURED" in second.getMessage()
    assert "azure-key-123" not in caplog.text and "azure-key-123" not in repr(JudgmentSettings.from_env(env))


def test_token_and_cost_budgets_are_shared_among_parallel_siblings():
    budget = JudgmentBudget(max_calls=10, max_tokens=3000, max_cost=1.0)
    guard = BudgetGuard(budget, JudgmentUsage(input_tokens=600), JudgmentSlot(index=2, of=3))
    guard.admit(prompt_tokens=700, attempt=0)  # share: (3000 - 600) / 3 = 800
    with pytest.raises(BudgetExhausted) as exc:
        guard.admit(prompt_tokens=900, attempt=0)
    assert exc.value.limit == "max_tokens"
    assert guard.output_tokens_allowed(700) == 100


def test_the_case_source_is_the_worst_step():
    agent = Record(step="classify", source="agent", model="m")
    fallback = Record(step="risk", source="rules-fallback", reason="HTTP 500 from the model endpoint")
    assert summarize([agent])["source"] == "agent"
    summary = summarize([agent, fallback])
    assert summary["source"] == "rules-fallback" and summary["model"] == "m"
    assert summary["reason"] == "risk: HTTP 500 from the model endpoint"
    assert summarize([])["source"] == "rules"
