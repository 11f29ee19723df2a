"""The case workflow on devhost with CASE_JUDGMENT=agent against a local Chat Completions server.

The real Agent Framework client in the activities talks to ``tests/fixtures/chat_server.py``; scripted
answers are picked by a marker in the event data. Checked: the model cannot lower a privileged case to
auto-approval, a garbage answer falls back to the rules with the reason in the case view and the audit
record, and ``judgment: {max_calls: 2}`` stops the third model call of a case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import run_host
from shared import audit
from shared.settings import AppSettings
from tests.e2e.case_harness import REPO, CaseClient, app_settings, plain_event, write_policy
from tests.fixtures.chat_server import ChatServer, ChatServerThread, Reply

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

READ_APPROVE = Reply(
    answer={
        "category": "accounts",
        "action": "account.update",
        "risk_class": "read",
        "confidence": 0.99,
        "rationale": "harmless",
    }
)


def approve(name: str) -> Reply:
    return Reply(
        answer={
            "specialist": name,
            "recommendation": "approve",
            "confidence": 0.99,
            "reasons": ["fine"],
            "risks": [],
        }
    )


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServerThread() as state:
        yield state


def start(azurite: Any, downstream: Any, tmp_path: Path, chat: ChatServer, **judgment: Any):
    """The app on devhost with the agent judgment aimed at ``chat`` and the policy's judgment patched."""
    policy = write_policy(tmp_path / "policy.json", downstream.url)
    doc = json.loads(policy.read_text())
    doc["judgment"] = {**doc.get("judgment", {}), "timeout_s": 5, **judgment}
    policy.write_text(json.dumps(doc))
    settings = {
        **app_settings(azurite, policy, downstream.url),
        "CASE_JUDGMENT": "agent",
        "OPENAI_BASE_URL": chat.url,
        "OPENAI_MODEL": "scripted",
        "OPENAI_API_KEY": "sk-e2e-secret",
    }
    host = run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings)
    return host, settings


def classified_record(settings: dict[str, str], case_id: str) -> dict[str, Any]:
    """The audit record of the case's ``classified`` stage (it carries the judgment)."""
    for _, body in audit.read_raw(AppSettings.from_env(settings), case_id):
        record = json.loads(body)
        if record["kind"] == "stage" and record["data"].get("stage") == "classified":
            return record["data"]
    raise AssertionError(f"no classified record for {case_id}")


def test_agent_judgment_cannot_lower_a_privileged_case(azurite, downstream, tmp_path, chat, caplog):
    """The model says read + approve 0.99 everywhere; account.change still waits for approval; the case view
    and the audit record say the agent judged it (model, tokens, cost, prompt hash)."""
    chat.add_rule("e2e-read-approve", READ_APPROVE, agent="classifier")
    for name in ("policy", "risk", "requester_history"):
        chat.add_rule("e2e-read-approve", approve(name), agent=name)
    host, settings = start(azurite, downstream, tmp_path, chat)
    with host as running:
        client = CaseClient(running.base_url)
        body = plain_event("agent-1", "account.change", note="e2e-read-approve")
        case_id = client.send(body).json()["instanceId"]
        view = client.wait_pending(case_id)

        assert view["stage"] == "awaiting_approval" and view["riskClass"] == "privileged"
        judgment = view["judgment"]
        assert judgment["source"] == "agent" and judgment["model"] == "scripted"
        assert judgment["calls"] == 4 and judgment["tokens"] == 4 * 160 and judgment["cost"] > 0
        assert "below the rules' estimate privileged" in judgment["reason"]
        assert len(chat.seen("e2e-read-approve")) == 4
        record = classified_record(settings, case_id)
        assert record["decision"]["risk_class"] == "privileged"
        assert record["decision"]["approval"]["rule"] == "single"
        steps = {r["step"]: r for r in record["judgment"]["records"]}
        assert set(steps) == {"classify", "policy", "risk", "requester_history"}
        assert all(r["source"] == "agent" and r["model"] == "scripted" for r in steps.values())
        assert all(len(r["prompt_hash"]) == 64 for r in steps.values())
        assert record["classification"]["risk_class"] == "privileged"
    assert "sk-e2e-secret" not in caplog.text


def test_garbage_answers_fall_back_to_the_rules_stage(azurite, downstream, tmp_path, chat):
    """Every agent answers garbage: the case reaches the rules' stage (awaiting approval for account.change)
    with rules-fallback and the reason in the case view and the audit record."""
    chat.add_rule("e2e-garbage", Reply(text="<<garbage>> not json at all"))
    host, settings = start(azurite, downstream, tmp_path, chat)
    with host as running:
        client = CaseClient(running.base_url)
        case_id = client.send(plain_event("agent-2", "account.change", note="e2e-garbage")).json()[
            "instanceId"
        ]
        view = client.wait_pending(case_id)

        assert view["stage"] == "awaiting_approval"
        judgment = view["judgment"]
        assert judgment["source"] == "rules-fallback"
        assert "classify: invalid output" in judgment["reason"]
        record = classified_record(settings, case_id)
        assert record["judgment"]["source"] == "rules-fallback"
        sources = {r["step"]: (r["source"], r["reason"]) for r in record["judgment"]["records"]}
        assert all(s == "rules-fallback" and r.startswith("invalid output") for s, r in sources.values()), (
            sources
        )
        assert record["classification"]["rationale"].startswith("account.change is a known accounts event")


def test_max_calls_two_stops_the_third_call_of_a_case(azurite, downstream, tmp_path, chat):
    """judgment: {max_calls: 2}: the classifier and one specialist call the model; the other two specialists
    fall back without calling, with the budget named as the reason."""
    host, _ = start(azurite, downstream, tmp_path, chat, max_calls=2)
    with host as running:
        client = CaseClient(running.base_url)
        case_id = client.send(plain_event("agent-3", "order.cancel", note="e2e-budget")).json()["instanceId"]
        view = client.wait_stage(case_id, "completed", "awaiting_approval", "failed")

        assert len(chat.seen("e2e-budget")) == 2
        judgment = view["judgment"]
        assert judgment["calls"] == 2 and judgment["source"] == "rules-fallback"
        assert "judgment budget max_calls=2 exhausted" in judgment["reason"]
