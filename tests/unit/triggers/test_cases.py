"""triggers/cases.py: the decision endpoint's status mapping (409 state conflicts, 503 infrastructure, 415 for
bodies a cross-site form can send), the signing-key check at start-up, and GET /api/approvals over every page
of running cases (503 when the task hub cannot be listed)."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest

from shared import decision_seal
from shared.identity import encode_principal
from tests.fixtures.durable_client import FakeDurableClient
from tests.fixtures.key_vault import reference

KEY = "unit-test-signing-key-0123456789abcdefghij"


def _details(instance_id):
    """What the task hub answers for a case waiting at its first approval tier, and for that tier."""
    if instance_id.endswith("-approval-0"):
        return {"custom_status": {"approvedBy": []}, "name": "approval_tier"}
    pending = {
        "case_instance_id": instance_id,
        "approval_instance_id": f"{instance_id}-approval-0",
        "tier": 0,
        "tier_count": 1,
        "roles": ["approver"],
        "rule": "single",
        "required": 1,
        "requested_at": "2026-01-05T09:00:00+00:00",
        "expires_at": "2026-01-06T09:00:00+00:00",
        "remind_at": "2026-01-05T13:00:00+00:00",
        "evidence_hash": "sha256:x",
        "pack": _pack(instance_id),
    }
    custom = {
        "stage": "awaiting_approval",
        "approvalInstanceId": f"{instance_id}-approval-0",
        "pendingApproval": pending,
        "requester": "alice",
        "eventId": "e1",
    }
    return {"custom_status": custom, "name": "case_workflow"}


def _Client(fail_status: Exception | None = None, fail_raise: Exception | None = None) -> FakeDurableClient:
    """The shared fake durable client with a running case waiting for approval; its calls fail the way
    the task hub can."""
    return FakeDurableClient("Running", details=_details, status_error=fail_status, raise_error=fail_raise)


def _pack(case_id):
    return {
        "case_instance_id": case_id,
        "event_id": "e1",
        "event_type": "account.change",
        "requester": "alice",
        "action_summary": "x",
        "target": "t",
        "estimated_impact": "i",
        "rollback_hint": "r",
        "risk_class": "privileged",
        "policy_version": "v",
        "evidence": {},
    }


def _decide(client, monkeypatch, content_type="application/json", key=KEY):
    from triggers import cases

    monkeypatch.setenv(decision_seal.SETTING, key)
    monkeypatch.setattr(cases.decision_records, "record", lambda *a, **k: None)
    case_id = "case-" + "a" * 32
    req = func.HttpRequest(
        "POST",
        f"http://h/api/cases/{case_id}/decision",
        headers={**encode_principal("bob", ["approver"]), "Content-Type": content_type},
        route_params={"id": case_id},
        body=json.dumps({"decision": "approve"}).encode(),
    )
    fn = cases.decide_case._function.get_user_function().__wrapped__
    return asyncio.run(fn(req, client))


def test_decision_endpoint_maps_state_conflicts_to_409_and_infrastructure_to_503(monkeypatch):
    assert _decide(_Client(), monkeypatch).status_code == 202
    gone = _Client(fail_raise=Exception("Instance with ID x is gone: either completed or failed"))
    assert _decide(gone, monkeypatch).status_code == 409
    down = _Client(fail_raise=Exception("Webhook returned unrecognized status code 500"))
    answer = _decide(down, monkeypatch)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    unreadable = _Client(fail_status=ConnectionError("storage down"))
    assert _decide(unreadable, monkeypatch).status_code == 503


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_decision_endpoint_refuses_bodies_a_cross_site_form_can_send(monkeypatch, content_type):
    """With cookie sign-in, a form on another site could post a decision without a CORS preflight: the
    JSON route answers 415 to every content type such a form can send."""
    client = _Client()
    answer = _decide(client, monkeypatch, content_type)
    assert answer.status_code == 415
    assert "application/json" in json.loads(answer.get_body())["error"]


def test_missing_key_in_azure_is_logged_at_start_up(monkeypatch, caplog):
    from triggers.cases import check_decision_key_at_startup

    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "x")
    monkeypatch.delenv(decision_seal.SETTING, raising=False)
    assert decision_seal.SETTING in (check_decision_key_at_startup() or "")
    assert "decision routes disabled at start-up" in caplog.text
    monkeypatch.setenv(decision_seal.SETTING, KEY)
    assert check_decision_key_at_startup() is None


def test_unresolved_key_vault_reference_answers_503_like_a_missing_key(monkeypatch, caplog):
    """CASE_DECISION_SIGNING_KEY left as Key Vault reference text: the start-up check reports it and the
    decision route answers 503 naming the setting (nothing is signed with the reference text, nothing is
    raised to the tier); no log line or answer carries the reference."""
    from triggers.cases import check_decision_key_at_startup

    text = reference("case-decision-signing-key")
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "x")
    monkeypatch.setenv(decision_seal.SETTING, text)
    assert "did not resolve" in (check_decision_key_at_startup() or "")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")  # Azure with App Service Authentication
    client = _Client()
    answer = _decide(client, monkeypatch, key=text)
    assert answer.status_code == 503
    error = json.loads(answer.get_body())["error"]
    assert decision_seal.SETTING in error and "did not resolve" in error
    assert "vault.azure.net" not in error and "vault.azure.net" not in caplog.text
    assert client.raised == []


def _list_approvals(monkeypatch, listing):
    from triggers import case_source, cases

    async def list_instances(client, *, runtime_statuses=None, **_):
        assert runtime_statuses == ["Running"]
        if isinstance(listing, Exception):
            raise listing
        return listing

    monkeypatch.setattr(case_source, "list_instances", list_instances)
    req = func.HttpRequest("GET", "http://h/api/approvals", headers=encode_principal("bob", ["approver"]),
                           body=b"")
    fn = cases.list_approvals._function.get_user_function().__wrapped__
    return asyncio.run(fn(req, _Client()))


def test_approvals_list_every_page_of_running_cases(monkeypatch):
    """More waiting cases than the SDK's one page (100) are all listed: the route reads the task hub
    through triggers/case_source.py, which follows the continuation token (get_status_by does not)."""
    statuses = []
    for n in range(150):
        case_id = f"case-{n:032x}"
        custom = asyncio.run(_Client().get_status(case_id)).custom_status
        statuses.append({"name": "case_workflow", "instanceId": case_id, "customStatus": custom})
    statuses.append({"name": "approval_tier", "instanceId": "case-x-approval-0", "customStatus": {}})
    answer = _list_approvals(monkeypatch, statuses)
    assert answer.status_code == 200
    body = json.loads(answer.get_body())
    assert body["count"] == 150 and {a["caseId"] for a in body["approvals"]} == {
        s["instanceId"] for s in statuses[:150]
    }


def test_approvals_answer_503_when_the_task_hub_cannot_be_listed(monkeypatch):
    from triggers.case_source import CaseSourceError

    answer = _list_approvals(monkeypatch, CaseSourceError("listing instances answered 500"))
    assert answer.status_code == 503 and answer.headers["Retry-After"]
