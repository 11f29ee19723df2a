"""People in the loop, in a real browser: Playwright for Python driving Debian's ``chromium`` against the app
on devhost with Azurite (never ``playwright install``: the Makefile installs the apt package ``chromium``).

Screenshots go to ``$CASE_SCREENSHOT_DIR`` when set (``docs/img`` refreshes the README's pictures), else to
the test's temporary directory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.testing import run_host
from tests.e2e.case_harness import REPO, CaseClient, app_settings, plain_event, principal, write_policy
from tests.e2e.conftest import App
from tests.fixtures.downstream import DownstreamServer

pytestmark = [pytest.mark.azurite, pytest.mark.slow, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
#: Generous per-step bound for a loaded machine (conditions are awaited, never slept on).
STEP_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Debian Chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the Debian package chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def app(azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One app for the module (each test opens its own cases), on the manual virtual clock."""
    tmp = tmp_path_factory.mktemp("browser")
    with DownstreamServer() as downstream:
        settings = app_settings(azurite, write_policy(tmp / "policy.json", downstream.url), downstream.url)
        with run_host(REPO, data_dir=tmp / "data", clock="virtual-manual", settings=settings) as host:
            yield App(CaseClient(host.base_url), host, downstream, settings)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go."""
    target = Path(os.environ.get("CASE_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _person(browser, base: str, name: str, roles: str, *, javascript: bool = True):
    """A browser context signed in as ``name`` through the sign-in form; returns (context, page)."""
    context = browser.new_context(base_url=base, java_script_enabled=javascript,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_MS)
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_MS)
    page = context.new_page()
    page.goto("/api/inbox")
    assert "/.auth/login/dev" in page.url  # signed out: the app sent us to the sign-in page
    page.get_by_label("Name").fill(name)
    page.get_by_label("Roles").fill(roles)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/api/inbox")
    return context, page


def _case(app, event_id: str, type_: str, requester: str = "alice", **data) -> str:
    case_id = app.client.send(plain_event(event_id, type_, requester=requester, **data)).json()["instanceId"]
    app.client.wait_pending(case_id)
    return case_id


def test_approver_finds_decides_and_sees_the_case_complete(app, browser, shots):
    case_id = _case(app, "acct-b1", "account.change")
    context, page = _person(browser, app.client.base, "bob", "approver")
    from playwright.sync_api import expect

    row_link = page.get_by_role("link", name=case_id)
    expect(row_link).to_be_visible()
    page.screenshot(path=str(shots / "inbox.png"), full_page=True)
    row_link.click()
    page.wait_for_url(f"**/api/inbox/{case_id}")
    evidence = page.locator('input[name="evidence_hash"]').get_attribute("value")
    assert evidence and evidence.startswith("sha256:")
    expect(page.locator("code.hash").first).to_have_text(evidence)
    expect(page.locator("dd.summary")).to_contain_text("account.update on account.change-acct-b1")
    page.screenshot(path=str(shots / "decision.png"), full_page=True)

    # changed evidence is refused, and so is a form without its token
    page.get_by_label("Reason").fill("verified with the customer")
    page.locator('input[name="evidence_hash"]').evaluate("e => e.value = 'sha256:changed'")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.error")).to_contain_text("evidence changed")
    page.get_by_label("Reason").fill("verified with the customer")
    page.locator('input[name="csrf_token"]').evaluate("e => e.remove()")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.error")).to_contain_text("form token")

    page.get_by_label("Reason").fill("verified with the customer")
    posts_before = len(app.downstream.posts())
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_contain_text("Your approval was recorded.")
    page.get_by_role("link", name=case_id).click()
    page.wait_for_url(f"**/api/console/cases/{case_id}")
    expect(page.locator("dd.stage").first).to_have_text("completed")  # live region, or on arrival
    [key] = [r.headers["Idempotency-Key"] for r in app.downstream.posts()[posts_before:]
             if r.path == "/hooks/accounts.update"]
    expect(page.locator("table.effects")).to_contain_text(key)  # the key in full, as the tool got it
    expect(page.locator("#live")).to_contain_text("verified with the customer")
    page.screenshot(path=str(shots / "console.png"), full_page=True)
    context.close()


def test_requester_and_outsider_cannot_decide(app, browser):
    case_id = _case(app, "acct-b2", "account.change")
    from playwright.sync_api import expect

    context, page = _person(browser, app.client.base, "alice", "")
    page.goto("/api/inbox?tab=mine")
    expect(page.get_by_role("link", name=case_id)).to_be_visible()
    page.get_by_role("link", name=case_id).click()
    expect(page.get_by_text("You requested this case")).to_be_visible()
    assert page.get_by_role("button", name="Approve").count() == 0
    forced = page.request.post(f"/api/inbox/{case_id}", form={
        "decision": "approve", "reason": "mine", "evidence_hash": "", "csrf_token": ""})
    assert forced.status == 403
    context.close()

    context, page = _person(browser, app.client.base, "nora", "viewer")
    for tab in ("decide", "others", "mine"):
        page.goto(f"/api/inbox?tab={tab}")
        assert page.get_by_role("link", name=case_id).count() == 0
    assert page.goto(f"/api/inbox/{case_id}").status == 403
    context.close()
    assert app.client.case(case_id)["stage"] == "awaiting_approval"


def test_the_same_decision_works_with_javascript_off(app, browser):
    case_id = _case(app, "acct-b3", "account.change")
    from playwright.sync_api import expect

    context, page = _person(browser, app.client.base, "carol", "approver", javascript=False)
    page.get_by_role("link", name=case_id).click()
    page.get_by_label("Reason").fill("no script needed")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_contain_text("Your approval was recorded.")
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed" and view["outcome"]["approvers"] == ["carol"]
    context.close()


def test_two_of_two_shows_progress_live_in_an_open_console(app, browser):
    case_id = _case(app, "pay-b4", "payment.release", amount=50000, currency="EUR")
    from playwright.sync_api import expect

    context, page = _person(browser, app.client.base, "alice", "")
    page.goto(f"/api/console/cases/{case_id}")
    approvals = page.locator("#live li.approvals")
    expect(approvals).to_contain_text("0 of 2 approvals")
    page.evaluate("window.__notReloaded = true")
    answer = app.client.decide(case_id, principal("bob", "approver"), "approve", "first of two")
    assert answer.status_code == 202, answer.text
    decided = time.monotonic()
    expect(approvals).to_contain_text("1 of 2 approvals", timeout=STEP_MS)
    print(f"console showed '1 of 2' {time.monotonic() - decided:.2f} s after the decision was accepted")
    assert page.evaluate("window.__notReloaded") is True  # updated in place: no reload
    expect(page.locator("#live")).to_contain_text("approved by bob")
    context.close()
