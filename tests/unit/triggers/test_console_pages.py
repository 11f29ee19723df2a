"""Rendering helpers of the people pages (triggers/console_pages.py): form tokens, origin check, the
retrying activity and budget use read from a durable history, sign-in redirects."""

from __future__ import annotations

import base64
import hashlib
import hmac

import azure.functions as func

from shared.identity import Principal
from tests.fixtures.key_vault import reference
from triggers import console_pages as pages

BOB = Principal("bob", frozenset({"approver"}))


def _req(headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://127.0.0.1:7071/api/inbox/case-1", headers=headers, body=b"")


def test_form_token_binds_person_and_case(monkeypatch) -> None:
    monkeypatch.setenv(pages.FORM_KEY_SETTING, "k1")
    token = pages.form_token(BOB, "case-1")
    assert pages.form_token_ok(Principal("BOB ", frozenset()), "case-1", token)  # same identity
    assert not pages.form_token_ok(BOB, "case-2", token)
    assert not pages.form_token_ok(Principal("carol", frozenset()), "case-1", token)
    assert not pages.form_token_ok(BOB, "case-1", None)
    monkeypatch.setenv(pages.FORM_KEY_SETTING, "k2")
    assert not pages.form_token_ok(BOB, "case-1", token)  # another key: refused


def test_unresolved_key_vault_reference_is_not_the_form_key(monkeypatch) -> None:
    """A CASE_CONSOLE_FORM_KEY left as Key Vault reference text would let anyone who knows the vault URL
    mint a form token for any approver and case; it falls back to the per-process random key instead."""
    text = reference("case-console-form-key")
    forged = base64.urlsafe_b64encode(
        hmac.new(text.encode(), f"decide|{BOB.key}|case-1".encode(), hashlib.sha256).digest()
    ).decode().rstrip("=")
    monkeypatch.setenv(pages.FORM_KEY_SETTING, text)
    assert not pages.form_token_ok(BOB, "case-1", forged)
    token = pages.form_token(BOB, "case-1")
    monkeypatch.delenv(pages.FORM_KEY_SETTING)
    assert pages.form_token_ok(BOB, "case-1", token)  # the same key as with the setting unset
    monkeypatch.setenv(pages.FORM_KEY_SETTING, text)
    assert pages.form_token_ok(BOB, "case-1", forged) is False


def test_same_origin() -> None:
    assert pages.same_origin(_req({"host": "127.0.0.1:7071"}))
    assert pages.same_origin(_req({"host": "127.0.0.1:7071", "origin": "http://127.0.0.1:7071"}))
    assert not pages.same_origin(_req({"host": "127.0.0.1:7071", "origin": "https://evil.example"}))
    assert not pages.same_origin(_req({"host": "127.0.0.1:7071", "origin": "null"}))


def test_retrying_and_budgets_from_history() -> None:
    history = [
        {"EventType": "ExecutionStarted"},
        {"EventType": "TaskCompleted", "FunctionName": "load_policy"},
        {"EventType": "TaskFailed", "FunctionName": "apply_action", "Reason": "HTTP 503 from the tool\nmore"},
    ]
    assert pages.retrying(history) == {"name": "apply_action", "reason": "HTTP 503 from the tool"}
    assert pages.retrying([*history, {"EventType": "TaskCompleted", "FunctionName": "apply_action"}]) is None
    assert pages.retrying(None) is None
    limits = {"max_activities": 40, "max_runtime_s": 7200}
    records = [{"kind": "stage", "data": {"stage": "classified", "decision": {"budgets": limits},
                                          "merge": {"inputs": [{"specialist": "risk"}]}}}]
    used = pages.budgets(records, history, "2026-12-07T10:00:00Z", "2026-12-07T11:30:00Z")
    assert used == {"used_activities": 2, "max_activities": 40, "runtime": "1 h 30 min",
                    "max_runtime": "2 h 0 min"}
    assert pages.budgets([], history, "2026-12-07T10:00:00Z", None) is None
    assert pages.specialists(records) == ([{"specialist": "risk"}], None)


def test_sign_in_redirect_follows_devhost_setting(monkeypatch) -> None:
    monkeypatch.delenv(pages.LOGIN_PATH_SETTING, raising=False)
    r = pages.sign_in_redirect("/api/inbox?tab=mine")
    assert r.headers["Location"] == "/.auth/login/aad?post_login_redirect_uri=/api/inbox%3Ftab%3Dmine"
    monkeypatch.setenv(pages.LOGIN_PATH_SETTING, "/.auth/login/dev")
    assert pages.sign_in_redirect("/api/inbox").headers["Location"].startswith("/.auth/login/dev?")


def test_why_not_deciding() -> None:
    assert "requested this case" in pages.why_not_deciding(BOB, "Bob", "awaiting_approval", [], ["approver"])
    already = pages.why_not_deciding(BOB, "alice", "awaiting_approval", ["bob"], ["approver"])
    assert "already approved" in already
    assert "admin" in pages.why_not_deciding(BOB, "alice", "awaiting_approval", [], ["admin"])
    assert "completed" in pages.why_not_deciding(BOB, "alice", "completed", [], [])
