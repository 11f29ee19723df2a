"""The people pages over plain HTTP (no browser): devhost's development sign-in, the inbox, the decision
form (form token, evidence hash, separation of duties) and the case console, against devhost + Azurite."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from devhost.testing import wait_for
from shared.identity import Principal
from shared.settings import AppSettings
from shared.storage import ensure_queue
from tests.e2e.case_harness import plain_event
from triggers.console_pages import form_token

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def _browser(app, name: str, roles: str = "") -> httpx.Client:
    client = httpx.Client(base_url=app.client.base, timeout=30, follow_redirects=False)
    params = {"name": name, "roles": roles, "post_login_redirect_uri": "/api/inbox"}
    r = client.get("/.auth/login/dev", params=params)
    assert r.status_code == 302
    return client


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} in the page"
    return match.group(1)


def test_signed_out_pages_redirect_to_the_development_sign_in(app):
    with httpx.Client(base_url=app.client.base, timeout=30) as anonymous:
        r = anonymous.get("/api/inbox?tab=mine", follow_redirects=False)
        assert r.status_code == 302
        assert r.headers["location"] == "/.auth/login/dev?post_login_redirect_uri=/api/inbox%3Ftab%3Dmine"
        assert anonymous.get("/api/console/cases/case-x", follow_redirects=False).status_code == 302


def test_decide_from_the_page_and_every_refusal(app):
    sent = app.client.send(plain_event("acct-page", "account.change", requester="alice"))
    case_id = sent.json()["instanceId"]
    app.client.wait_pending(case_id)
    bob, alice = _browser(app, "bob", "approver"), _browser(app, "alice")
    nora = _browser(app, "nora", "viewer")

    inbox = bob.get("/api/inbox")
    assert inbox.status_code == 200 and f"/api/inbox/{case_id}" in inbox.text
    assert "Content-Security-Policy" in inbox.headers
    assert case_id not in nora.get("/api/inbox").text
    assert nora.get(f"/api/inbox/{case_id}").status_code == 403
    mine = alice.get("/api/inbox?tab=mine")
    assert case_id in mine.text

    page = bob.get(f"/api/inbox/{case_id}")
    assert page.status_code == 200
    evidence = _hidden(page.text, "evidence_hash")
    token = _hidden(page.text, "csrf_token")
    assert evidence.startswith("sha256:") and evidence in page.text
    assert "account.update on account.change-acct-page" in page.text
    assert '<label for="reason">Reason</label>' in page.text
    assert ">Approve</button>" in page.text and ">Reject</button>" in page.text

    base = {"decision": "approve", "reason": "verified", "evidence_hash": evidence}
    no_token = bob.post(f"/api/inbox/{case_id}", data=base)
    assert no_token.status_code == 403 and "form token" in no_token.text
    cross_site = bob.post(f"/api/inbox/{case_id}", data={**base, "csrf_token": token},
                          headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    stale = bob.post(f"/api/inbox/{case_id}", data={**base, "csrf_token": token, "evidence_hash": "sha256:0"})
    assert stale.status_code == 409 and "evidence changed" in stale.text
    no_reason = bob.post(f"/api/inbox/{case_id}", data={**base, "csrf_token": token, "reason": " "})
    assert no_reason.status_code == 400 and "Reason is required" in no_reason.text

    alice_page = alice.get(f"/api/inbox/{case_id}")
    assert alice_page.status_code == 200 and ">Approve</button>" not in alice_page.text
    assert "You requested this case" in alice_page.text
    forced = alice.post(f"/api/inbox/{case_id}", data={**base, "csrf_token": "x"})
    assert forced.status_code == 403
    alice_token = form_token(Principal("alice", frozenset()), case_id)
    forced = alice.post(f"/api/inbox/{case_id}", data={**base, "csrf_token": alice_token})
    assert forced.status_code == 403 and "self-approval" in forced.text

    assert bob.get(f"/api/inbox/{case_id}?decision=approve").status_code == 200  # a GET never decides
    done = bob.post(f"/api/inbox/{case_id}", data={**base, "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == f"/api/inbox/{case_id}?decided=approve"
    app.client.wait_stage(case_id, "completed", "failed")
    after = bob.get(done.headers["location"])
    assert "Your approval was recorded." in after.text

    queue = ensure_queue(AppSettings.from_env(app.settings), app.settings["CASE_NOTIFICATIONS_QUEUE"])
    notes = wait_for(lambda: [n for n in (json.loads(m.content) for m in queue.peek_messages(max_messages=32))
                              if n["kind"] == "approval_requested"], message="approval_requested note")
    port = app.client.base.rsplit(":", 1)[1]
    assert notes[0]["decision_url"] == f"http://localhost:{port}/api/inbox/{case_id}"  # a link, not a power

    console = bob.get(f"/api/console/cases/{case_id}")
    assert console.status_code == 200
    text = console.text
    assert '<dd class="stage">completed</dd>' in text
    [post] = [r for r in app.downstream.posts() if r.path == "/hooks/accounts.update"]
    assert post.headers["Idempotency-Key"] in text  # the side effect's idempotency key, in full
    assert "verified" in text and "Verified:" in text
    assert "self-approval" in text or "requested this case" in text  # alice's refused attempt is listed
    listing = bob.get("/api/console", params={"q": case_id})
    assert f"/api/console/cases/{case_id}" in listing.text
    for client in (bob, alice, nora):
        client.close()
