"""Issue 9: each attack performed against the app on devhost (real HTTP, Azurite) and shown to fail.

One test per item (docs/security.md maps attack → test). The forged/replayed decisions (item 1), replayed
GitHub webhooks (item 7) and hostile JSON/sizes (item 8) have their own sections below.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from devhost.testing import run_host
from tests.e2e.case_harness import REPO, app_settings, plain_event, principal, write_policy

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

BOB = principal("bob", "approver")
DAVE = principal("dave", "admin")
AUDITOR = principal("auditor", "auditor")


def _case(app, event_id: str, type_: str, requester: str = "alice", **data) -> str:
    r = app.client.send(plain_event(event_id, type_, requester=requester, **data))
    assert r.status_code == 202, r.text
    return r.json()["instanceId"]


# -- item 2: management URLs --------------------------------------------------------------------------
def test_item2_event_senders_get_no_management_urls(app):
    """The 202 of POST /api/events carries the case id, redelivered and /api/cases/{id}; nothing under
    /runtime/webhooks/durabletask, in the body or the headers."""
    r = app.client.send(plain_event("m-1", "order.cancel", amount=5))
    assert r.status_code == 202
    body = r.json()
    case_id = body["instanceId"]
    assert body["redelivered"] is False
    assert r.headers["Location"] == f"{app.client.base}/api/cases/{case_id}" == body["statusUrl"]
    everything = r.text + json.dumps(dict(r.headers))
    assert "runtime/webhooks" not in everything and "code=" not in everything
    assert not [k for k in body if k.endswith("Uri")]


# -- item 3: unreadable amounts -----------------------------------------------------------------------
@pytest.mark.parametrize("amount", ["20,000", "20000 EUR", "NaN", True])
def test_item3_unreadable_amount_is_refused_at_ingress(app, amount):
    """payment.release with an amount that cannot be read strictly: 400 naming data.amount, no case."""
    r = app.client.send(plain_event(f"amt-{amount}", "payment.release", amount=amount))
    assert r.status_code == 400, r.text
    assert r.json()["fields"] == ["data.amount"]


def test_item3_two_disagreeing_amounts_are_refused(app):
    body = plain_event("amt-two", "payment.release", amount=20000)
    body["attributes"] = {"amount": 1}
    r = app.client.send(body)
    assert r.status_code == 400 and set(r.json()["fields"]) == {"data.amount", "attributes.amount"}


def test_item3_unreadable_amount_in_a_cloudevent_extension_is_refused(app):
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "ce-amt",
        "ce-source": "erp",
        "ce-type": "payment.release",
        "ce-requester": "alice",
        "ce-amount": "20,000",
        "Content-Type": "application/json",
    }
    r = app.client.send(None, headers=headers, raw=b"{}")
    assert r.status_code == 400 and r.json()["fields"] == ["attributes.amount"]


def test_item3_payment_without_amount_goes_to_a_person(app):
    """'no amount given' lowers the judgment's confidence and the case waits for a human."""
    case_id = _case(app, "amt-none", "payment.release")
    view = app.client.wait_stage(case_id, "awaiting_approval", "completed", "failed")
    assert view["stage"] == "awaiting_approval"


# -- item 4: look-alike self-approval -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["ａｌｉｃｅ", "alice\u200b", "\u0430lice", "alice\u0301", "ALİCE"])
def test_item4_look_alike_requester_cannot_approve(app, name):
    case_id = _case(app, f"look-{name.encode().hex()}", "account.change", requester="alice")
    app.client.wait_pending(case_id)
    headers = principal(name, "approver")
    headers["X-MS-CLIENT-PRINCIPAL-NAME"] = name.encode("utf-8")  # type: ignore[assignment]
    r = app.client.decide(case_id, headers)
    assert r.status_code == 403 and "self-approval" in r.json()["error"], r.text
    assert app.client.case(case_id)["stage"] == "awaiting_approval"


def test_item4_name_header_disagreeing_with_claims_is_refused(app):
    case_id = _case(app, "look-hdr", "account.change", requester="alice")
    app.client.wait_pending(case_id)
    headers = principal("alice", "approver")
    headers["X-MS-CLIENT-PRINCIPAL-NAME"] = "bob"
    assert app.client.decide(case_id, headers).status_code == 401
    document = {"name_typ": "n", "role_typ": "n", "claims": [{"typ": "n", "val": "approver"}]}
    forged = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(document).encode()).decode()}
    assert app.client.decide(case_id, forged).status_code == 401


# -- item 5: fail-open without App Service Authentication ---------------------------------------------
def test_item5_azure_without_app_service_authentication_answers_401(azurite, downstream, tmp_path):
    """WEBSITE_INSTANCE_ID set, WEBSITE_AUTH_ENABLED unset: principal headers are not trusted."""
    policy = write_policy(tmp_path / "policy.json", downstream.url)
    settings = app_settings(azurite, policy, downstream.url)
    settings.update({"WEBSITE_INSTANCE_ID": "e2e-instance", "CASE_DECISION_SIGNING_KEY": "k" * 40})
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        http = httpx.Client(base_url=host.base_url, timeout=30)
        r = http.post("/api/events", json=plain_event("az-1", "account.change"))
        case_id = r.json()["instanceId"]
        for method, path in (
            ("GET", f"/api/cases/{case_id}"),
            ("GET", f"/api/cases/{case_id}/audit"),
            ("GET", "/api/approvals"),
            ("POST", f"/api/cases/{case_id}/decision"),
        ):
            answer = http.request(method, path, headers=BOB, json={"decision": "approve"})
            assert answer.status_code == 401, (path, answer.text)
            assert "App Service Authentication" in answer.json()["error"]


# -- item 6: reads need a principal and a reason to see the case --------------------------------------
def test_item6_reads_need_a_principal_and_a_role(app):
    case_id = _case(app, "read-1", "account.change", requester="alice")
    app.client.wait_pending(case_id)
    base = app.client.base
    name_only = {"X-MS-CLIENT-PRINCIPAL-NAME": "bob"}
    for path in (f"/api/cases/{case_id}", f"/api/cases/{case_id}/audit", "/api/approvals"):
        assert app.client.http.get(base + path, headers=name_only).status_code == 401, path
    stranger = principal("mallory", "viewer")
    assert app.client.http.get(f"{base}/api/cases/{case_id}", headers=stranger).status_code == 403
    assert app.client.http.get(f"{base}/api/cases/{case_id}/audit", headers=stranger).status_code == 403
    listed = app.client.http.get(f"{base}/api/approvals", headers=stranger).json()["approvals"]
    assert [a for a in listed if a["caseId"] == case_id] == []
    for allowed in (principal("alice"), BOB, DAVE, AUDITOR):  # requester, both tiers' roles, reader role
        assert app.client.http.get(f"{base}/api/cases/{case_id}", headers=allowed).status_code == 200
        assert app.client.http.get(f"{base}/api/cases/{case_id}/audit", headers=allowed).status_code == 200


# -- item 9: ids validated before any storage call ----------------------------------------------------
@pytest.mark.parametrize(
    "bad", ["case-%00abc", "x" * 2000, "case-" + "g" * 32, "..%2F..%2Fetc", "case-unknown"]
)
def test_item9_malformed_ids_are_404_at_once(app, bad):
    for path in (f"/api/cases/{bad}", f"/api/cases/{bad}/audit"):
        r = app.client.http.get(app.client.base + path, headers=AUDITOR)
        assert r.status_code in (404, 414), (path, r.status_code, r.text)
    r = app.client.http.post(
        f"{app.client.base}/api/cases/{bad}/decision", headers=BOB, json={"decision": "approve"}
    )
    assert r.status_code in (404, 414)


# -- item 1: forged and replayed decisions through the Durable HTTP API -------------------------------
DURABLE = "/runtime/webhooks/durabletask/instances"


def _audit(app, case_id: str) -> dict:
    r = app.client.http.get(f"{app.client.base}/api/cases/{case_id}/audit", headers=AUDITOR)
    assert r.status_code == 200, r.text
    return r.json()


def _refused_count(app, case_id: str) -> int:
    return int((app.client.case(case_id).get("approvalProgress") or {}).get("refused", 0))


def test_item1_forged_and_replayed_raises_do_not_count(app):
    """Two forged raises (made-up approver and roles) do not release a 2-of-2 payment; a replay of a real
    sealed decision (read back from the tier's history) is refused as a replay; all are audited."""
    from devhost.testing import wait_for

    case_id = _case(app, "forge-1", "payment.release", amount=50000, currency="EUR")
    view = app.client.wait_pending(case_id)
    tier_id = view["approvalInstanceId"]
    evidence = view["pendingApproval"]["evidence_hash"]
    http, base = app.client.http, app.client.base
    for who, role in (("bob", "approver"), ("dave", "admin")):
        forged = {
            "decision": "approve",
            "reason": "forged",
            "approver": who,
            "roles": [role],
            "at": "2026-01-01T00:00:00+00:00",
            "evidence_hash": evidence,
        }
        r = http.post(f"{base}{DURABLE}/{tier_id}/raiseEvent/ApprovalDecision", json=forged)
        assert r.status_code == 202  # the Durable API accepts the raise; the tier refuses it
    wait_for(lambda: _refused_count(app, case_id) >= 2, timeout_s=30, message="forged raises refused")
    view = app.client.case(case_id)
    assert view["stage"] == "awaiting_approval"
    shown = view["approvalProgress"]["decisions"]  # the case view says what became of each decision
    assert [d["status"] for d in shown] == ["refused", "refused"] and "no seal" in shown[0]["reason"]

    assert app.client.decide(case_id, BOB).status_code == 202

    def bob_counted() -> bool:
        return (app.client.case(case_id).get("approvalProgress") or {}).get("approvedBy") == ["bob"]

    wait_for(bob_counted, timeout_s=30, message="bob counted")
    history = http.get(f"{base}{DURABLE}/{tier_id}", params={"showHistory": "true"})
    raised = [e for e in history.json()["historyEvents"] if e.get("EventType") == "EventRaised"]
    sealed = next(e["Input"] for e in raised if "seal" in json.dumps(e["Input"]))
    sealed = json.loads(sealed) if isinstance(sealed, str) else sealed
    replay = http.post(f"{base}{DURABLE}/{tier_id}/raiseEvent/ApprovalDecision", json=sealed)
    assert replay.status_code == 202
    wait_for(lambda: _refused_count(app, case_id) >= 3, timeout_s=30, message="replay refused")
    assert app.client.case(case_id)["stage"] == "awaiting_approval", "the replay did not complete the quorum"

    assert app.client.decide(case_id, DAVE).status_code == 202
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed" and view["outcome"]["approvers"] == ["bob", "dave"]
    trail = _audit(app, case_id)
    kinds = [r["kind"] for r in trail["records"]]
    assert kinds.count("decision") == 2 and kinds.count("decision_refused") == 3
    statuses = {d["approver"]: d["status"] for d in trail["decisions"]}
    assert statuses == {"bob": "counted", "dave": "counted"}


def test_item1_missing_signing_key_in_azure_fails_closed(azurite, downstream, tmp_path):
    """In Azure without CASE_DECISION_SIGNING_KEY the decision route answers 503 naming the setting."""
    policy = write_policy(tmp_path / "policy.json", downstream.url)
    settings = app_settings(azurite, policy, downstream.url)
    settings.update(
        {
            "WEBSITE_INSTANCE_ID": "e2e-instance",
            "WEBSITE_AUTH_ENABLED": "True",
            "CASE_DECISION_SIGNING_KEY": "",
        }
    )
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        http = httpx.Client(base_url=host.base_url, timeout=30)
        case_id = http.post("/api/events", json=plain_event("nokey-1", "account.change")).json()["instanceId"]
        r = http.post(f"/api/cases/{case_id}/decision", headers=BOB, json={"decision": "approve"})
        assert r.status_code == 503 and "CASE_DECISION_SIGNING_KEY" in r.json()["error"]


def test_item1_unresolved_key_vault_references_are_no_secrets(azurite, downstream, tmp_path):
    """In Azure every secret setting left as Key Vault reference text (App Service could not resolve it): an
    attacker who knows the vault URL signs with that text. The decision route answers 503 naming the
    signing key; a GitHub delivery signed with the reference is 401; a console form token made with the
    reference is 403, while the page's own token passes the form check and meets the same 503."""
    import hashlib
    import hmac
    import re

    from shared.identity import identity_key
    from tests.e2e.case_harness import CaseClient
    from tests.fixtures.key_vault import reference
    from tests.fixtures.octokit_examples import delivery, example

    policy = write_policy(tmp_path / "policy.json", downstream.url)
    settings = app_settings(azurite, policy, downstream.url)
    refs = {
        name: reference(secret)
        for name, secret in (
            ("CASE_DECISION_SIGNING_KEY", "case-decision-signing-key"),
            ("GITHUB_WEBHOOK_SECRET", "github-webhook-secret"),
            ("GITHUB_TOKEN", "github-token"),
            ("CASE_CONSOLE_FORM_KEY", "case-console-form-key"),
        )
    }
    settings.update({"WEBSITE_INSTANCE_ID": "e2e-instance", "WEBSITE_AUTH_ENABLED": "True", **refs})
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual-manual", settings=settings) as host:
        http = httpx.Client(base_url=host.base_url, timeout=30)
        headers, body = delivery("member", example("member", "added"), secret=refs["GITHUB_WEBHOOK_SECRET"])
        hook = http.post("/api/events", content=body, headers=headers)
        assert hook.status_code == 401, hook.text

        case_id = http.post("/api/events", json=plain_event("kvref-1", "account.change")).json()["instanceId"]
        r = http.post(f"/api/cases/{case_id}/decision", headers=BOB, json={"decision": "approve"})
        assert r.status_code == 503 and "CASE_DECISION_SIGNING_KEY" in r.json()["error"]
        assert "did not resolve" in r.json()["error"] and "vault.azure.net" not in r.text

        CaseClient(host.base_url).wait_pending(case_id)
        page = http.get(f"/api/inbox/{case_id}", headers=BOB)
        assert page.status_code == 200, page.text
        evidence = re.search(r'name="evidence_hash" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
        token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
        message = f"decide|{identity_key('bob')}|{case_id}".encode()  # triggers/console_pages.py form_token
        forged = base64.urlsafe_b64encode(
            hmac.new(refs["CASE_CONSOLE_FORM_KEY"].encode(), message, hashlib.sha256).digest()
        ).decode().rstrip("=")
        assert forged != token
        form = {"decision": "approve", "reason": "ok", "evidence_hash": evidence}
        refused = http.post(f"/api/inbox/{case_id}", headers=BOB, data={**form, "csrf_token": forged})
        assert refused.status_code == 403 and "form token" in refused.text
        genuine = http.post(f"/api/inbox/{case_id}", headers=BOB, data={**form, "csrf_token": token})
        assert genuine.status_code == 503 and "CASE_DECISION_SIGNING_KEY" in genuine.text
        assert CaseClient(host.base_url).case(case_id)["stage"] == "awaiting_approval"


# -- item 7: replayed signed GitHub webhooks ----------------------------------------------------------
def test_item7_replayed_signed_webhook_maps_to_the_existing_case(app):
    """A captured signed deployment body resent with a new X-GitHub-Delivery opens no second case."""
    from tests.fixtures.octokit_examples import delivery, example

    headers, body = delivery("deployment", example("deployment", "created"))
    first = app.client.send(None, headers=headers, raw=body)
    assert first.status_code == 202, first.text
    replay_headers = {**headers, "X-GitHub-Delivery": "11111111-2222-3333-4444-555555555555"}
    replay = app.client.send(None, headers=replay_headers, raw=body)
    assert replay.status_code == 202
    assert replay.json()["instanceId"] == first.json()["instanceId"]
    assert replay.json()["redelivered"] is True and replay.headers["X-Case-Redelivered"] == "true"


# -- item 8: hostile JSON and sizes -------------------------------------------------------------------
NESTED = "[" * 1000 + "]" * 1000


def test_item8_hostile_json_is_a_clear_4xx_everywhere(app):
    base, http = app.client.base, app.client.http
    case_id = _case(app, "hostile-1", "account.change")
    app.client.wait_pending(case_id)
    checks = []
    body_json = {"Content-Type": "application/json"}
    # the app's JSON routes
    checks.append(("events nested", http.post(f"{base}/api/events", content=NESTED, headers=body_json), 400))
    checks.append(
        (
            "decision nested",
            http.post(f"{base}/api/cases/{case_id}/decision", content=NESTED, headers={**BOB, **body_json}),
            400,
        )
    )
    deep_principal = base64.b64encode(('{"claims": ' + NESTED + "}").encode()).decode()
    checks.append(
        (
            "principal nested",
            http.get(f"{base}/api/cases/{case_id}", headers={"X-MS-CLIENT-PRINCIPAL": deep_principal}),
            401,
        )
    )
    for name, value in (("digits", "9" * 4000), ("nan", "NaN"), ("inf", "Infinity"), ("-inf", "-Infinity")):
        raw = '{"id": "h-' + name + '", "type": "payment.release", "requester": "alice", "data": {"x": '
        raw += value + "}}"
        checks.append(
            (f"events {name}", http.post(f"{base}/api/events", content=raw, headers=body_json), 400)
        )
    late = plain_event("h-year", "order.cancel")
    late["time"] = "9999-12-31T23:59:59-05:00"
    checks.append(("year 9999 plain", app.client.send(late), 400))
    ce = {
        "specversion": "1.0",
        "id": "h-ce",
        "source": "erp",
        "type": "order.cancel",
        "requester": "alice",
        "time": "9999-12-31T23:59:59-05:00",
        "data": {},
    }
    checks.append(
        (
            "year 9999 cloudevent",
            http.post(
                f"{base}/api/events", json=ce, headers={"Content-Type": "application/cloudevents+json"}
            ),
            400,
        )
    )
    # devhost's Durable HTTP API and /admin
    tier = app.client.case(case_id)["approvalInstanceId"]
    checks.append(
        (
            "raise nested",
            http.post(
                f"{base}{DURABLE}/{tier}/raiseEvent/ApprovalDecision", content=NESTED, headers=body_json
            ),
            400,
        )
    )
    checks.append(
        (
            "raise NaN",
            http.post(
                f"{base}{DURABLE}/{tier}/raiseEvent/ApprovalDecision", content='{"a": NaN}', headers=body_json
            ),
            400,
        )
    )
    checks.append(
        (
            "start nested",
            http.post(
                f"{base}/runtime/webhooks/durabletask/orchestrators/case_workflow",
                content=NESTED,
                headers=body_json,
            ),
            400,
        )
    )
    checks.append(
        ("admin nested", http.post(f"{base}/admin/functions/health", content=NESTED, headers=body_json), 400)
    )
    checks.append(("top huge", http.get(f"{base}{DURABLE}", params={"top": "99999999999999999999"}), 400))
    # sizes
    checks.append(("60k id", http.get(f"{base}/api/cases/{'x' * 60000}", headers=AUDITOR), 414))
    checks.append(("60k durable id", http.get(f"{base}{DURABLE}/{'x' * 60000}"), 414))
    checks.append(
        (
            "200 KB header",
            http.get(f"{base}/api/cases/{case_id}", headers={**AUDITOR, "X-Big": "a" * 200_000}),
            431,
        )
    )
    wrong = [
        (name, r.status_code, expected, r.text[:200])
        for name, r, expected in checks
        if r.status_code != expected
    ]
    assert wrong == []
    for name, r, _ in checks:
        assert r.headers.get("content-type", "").startswith("application/json") or not r.content, name
