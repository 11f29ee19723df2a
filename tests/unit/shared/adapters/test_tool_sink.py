"""The local sink (CASE_TOOL_SINK) and the missing-credential configuration error, without a network."""

from __future__ import annotations

import pytest

from shared.adapters import (
    ActionRequest,
    SinkAdapter,
    ToolNotConfigured,
    configuration_problems,
    get_adapter,
    permanent_failure,
)
from shared.settings import AppSettings

STATUSES = "https://api.github.com/repos/Codertocat/Hello-World/deployments/1/statuses"


def deployment(outcome: str = "approved") -> ActionRequest:
    return ActionRequest(tool="github-deployment-status", action="deployment.gate", instance_id="case-s",
                         outcome=outcome, parameters={"statuses_url": STATUSES, "environment": "production"})


def test_settings_read_the_sink_list() -> None:
    """CASE_TOOL_SINK is a comma-separated list of tool names; empty means none."""
    assert AppSettings.from_env({"CASE_TOOL_SINK": " github-deployment-status, webhook "}).tool_sink == {
        "github-deployment-status", "webhook"}
    assert AppSettings.from_env({"CASE_TOOL_SINK": ""}).tool_sink == frozenset()


def test_sink_records_the_would_be_requests_without_a_token() -> None:
    """The GitHub adapter's own code runs (reconcile GET, then POST with the marker) against the sink."""
    settings = AppSettings(github_token=None, tool_sink=frozenset({"github-deployment-status"}))
    adapter = get_adapter("github-deployment-status", settings)
    assert isinstance(adapter, SinkAdapter)
    result = adapter.apply(deployment("rejected"), "case-s:deployment.gate", settings)
    assert result["state"] == "failure" and result["reconciled"] is False
    methods = [(r["method"], r["url"].split("?")[0]) for r in result["sink"]["requests"]]
    assert methods == [("GET", STATUSES), ("POST", STATUSES)]
    assert result["sink"]["requests"][1]["body"]["description"].endswith("]")  # the idempotency marker
    assert result["sink"]["sent"] is False


def test_without_the_sink_a_missing_token_is_a_configuration_error() -> None:
    """No token, no sink: ToolNotConfigured (a permanent error) before any call, and a start-up problem."""
    settings = AppSettings(github_token=None)
    with pytest.raises(ToolNotConfigured) as caught:
        adapter = get_adapter("github-deployment-status", settings)
        adapter.apply(deployment(), "case-s:deployment.gate", settings)
    assert caught.value.setting == "GITHUB_TOKEN"
    failure = permanent_failure("case-s:deployment.gate", caught.value)
    assert failure["status"] == "failed" and "GITHUB_TOKEN" in failure["error"]
    problems = configuration_problems(settings, {"github-deployment-status", "record"})
    assert len(problems) == 1 and "GITHUB_TOKEN" in problems[0]
    assert configuration_problems(settings, {"record"}) == []
    assert configuration_problems(AppSettings(github_token="t"), {"github-deployment-status"}) == []
    sinked = AppSettings(tool_sink=frozenset({"github-deployment-status"}))
    assert configuration_problems(sinked, {"github-deployment-status"}) == []


def test_unknown_sink_names_are_reported() -> None:
    """A typo in CASE_TOOL_SINK is named at start rather than silently sending for real."""
    problems = configuration_problems(AppSettings(tool_sink=frozenset({"githb"})), set())
    assert problems and "'githb'" in problems[0]
