"""Issue 13 (1): the GitHub tool offline and without credentials.

- Locally, ``CASE_TOOL_SINK=github-deployment-status`` (local.settings.sample.json) routes the tool to the
  local sink: an approved deployment case completes with no token and no network, its result records the
  status it would have posted, and nothing reaches the GitHub API.
- Without the sink and without ``GITHUB_TOKEN`` (a misconfigured Azure app), the case fails at once with the
  configuration error as its reason: one apply attempt, no retries.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devhost.testing import run_host
from tests.e2e.case_harness import REPO, CaseClient, app_settings, principal, write_policy
from tests.fixtures.octokit_examples import delivery, example

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

BOB = principal("bob", "approver")


def send_deployment(client: CaseClient, delivery_id: str) -> str:
    headers, body = delivery("deployment", example("deployment", "created"), delivery_id=delivery_id)
    response = client.send(None, headers=headers, raw=body)
    assert response.status_code == 202, response.text
    return response.json()["instanceId"]


def settings_for(azurite, downstream, tmp_path: Path, **overrides: str) -> dict[str, str]:
    settings = app_settings(azurite, write_policy(tmp_path / "policy.json", downstream.url), downstream.url)
    settings.update(overrides)
    return settings


def test_local_sink_completes_the_github_case_offline(azurite, downstream, tmp_path):
    """No token, tool in CASE_TOOL_SINK: approve → completed; the result shows the would-be POST."""
    settings = settings_for(azurite, downstream, tmp_path, GITHUB_TOKEN="",
                            CASE_TOOL_SINK="github-deployment-status")
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        client = CaseClient(host.base_url)
        case_id = send_deployment(client, "sink-1")
        client.wait_pending(case_id)
        assert client.decide(case_id, BOB).status_code == 202
        view = client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed", view["outcome"]
    sink = view["outcome"]["result"]["result"]["sink"]
    assert sink["sent"] is False
    posted = [r for r in sink["requests"] if r["method"] == "POST"]
    assert len(posted) == 1 and posted[0]["body"]["state"] == "success"
    assert posted[0]["url"].endswith("/statuses")
    assert downstream.statuses == []  # nothing reached the (stand-in) GitHub API


def test_missing_token_fails_the_case_at_once_and_is_reported_at_start(azurite, downstream, tmp_path, caplog):
    """No token, no sink: one configuration error at start; the approved case fails after one apply
    attempt with that reason."""
    caplog.set_level(logging.INFO)
    settings = settings_for(azurite, downstream, tmp_path, GITHUB_TOKEN="", CASE_TOOL_SINK="")
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        client = CaseClient(host.base_url)
        case_id = send_deployment(client, "no-token-1")
        client.wait_pending(case_id)
        assert client.decide(case_id, BOB).status_code == 202
        view = client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "failed"
    assert "GITHUB_TOKEN is empty" in view["outcome"]["reason"], view["outcome"]
    start_errors = [r.getMessage() for r in caplog.records
                    if r.getMessage().startswith("Configuration error")]
    assert len(start_errors) == 1 and "GITHUB_TOKEN" in start_errors[0], start_errors
    applies = [r for r in caplog.records
               if r.name == "Function.apply_action" and r.getMessage().startswith("Executing")]
    assert len(applies) == 1, [r.getMessage() for r in applies]
    assert downstream.statuses == []
