"""devhost's development sign-in (``devhost/http/easyauth.py``) over HTTP against tests/apps/http_auth."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.http.easyauth import COOKIE_NAME, SessionSigner, parse_sign_in, safe_redirect
from devhost.testing import HostThread, run_host
from shared.identity import encode_principal, principal_from_headers
from tests.fixtures.paths import APPS

APP = APPS / "http_auth"


@pytest.fixture(scope="module")
def auth_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    """The fixture app on devhost with the emulation on (the default)."""
    with run_host(APP, data_dir=tmp_path_factory.mktemp("auth")) as host:
        yield host


@pytest.fixture
def browser(auth_host: HostThread) -> Iterator[httpx.Client]:
    """A client that keeps cookies, like a browser, and does not follow redirects."""
    with httpx.Client(base_url=auth_host.base_url, timeout=20, follow_redirects=False) as c:
        yield c


def _whoami(client: httpx.Client, headers: dict[str, str] | None = None) -> dict:
    r = client.get("/api/whoami", headers=headers)
    assert r.status_code == 200
    return r.json()


def test_form_has_name_and_roles_fields_and_says_development_only(browser: httpx.Client) -> None:
    r = browser.get("/.auth/login/dev?post_login_redirect_uri=/api/whoami")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert '<label for="name">Name</label>' in r.text
    assert '<label for="roles">Roles</label>' in r.text
    assert "Development sign-in (devhost only)" in r.text
    assert 'name="post_login_redirect_uri" value="/api/whoami"' in r.text


def test_direct_sign_in_injects_easy_auth_headers_and_replaces_client_ones(browser: httpx.Client) -> None:
    r = browser.get("/.auth/login/dev?name=bob&roles=approver,admin&post_login_redirect_uri=/api/whoami")
    assert r.status_code == 302
    assert r.headers["location"] == "/api/whoami"
    assert COOKIE_NAME in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    forged = encode_principal("mallory", ["admin"])
    seen = _whoami(browser, forged)["headers"]
    principal = principal_from_headers(seen)
    assert principal is not None
    assert (principal.name, principal.roles, principal.identity_provider) == (
        "bob", frozenset({"approver", "admin"}), "dev")
    assert seen["x-ms-client-principal-name"] == "bob"
    assert seen["x-ms-client-principal-id"]


def test_form_post_signs_in_and_bad_input_is_named(browser: httpx.Client) -> None:
    r = browser.post("/.auth/login/dev", data={"name": "carol", "roles": "viewer",
                                                "post_login_redirect_uri": "/api/whoami"})
    assert (r.status_code, r.headers["location"]) == (302, "/api/whoami")
    principal = principal_from_headers(_whoami(browser)["headers"])
    assert principal is not None and principal.name == "carol" and principal.roles == {"viewer"}
    bad = browser.post("/.auth/login/dev", data={"name": " ", "roles": ""})
    assert bad.status_code == 400 and "Name is required." in bad.text
    odd = browser.post("/.auth/login/dev", data={"name": "x", "roles": "ok, <script>"})
    assert odd.status_code == 400 and "&lt;script&gt;" in odd.text and "<script>" not in odd.text


def test_me_and_logout(browser: httpx.Client) -> None:
    assert browser.get("/.auth/me").status_code == 401
    browser.get("/.auth/login/dev?name=dana&roles=approver")
    me = browser.get("/.auth/me")
    assert me.status_code == 200
    [entry] = me.json()
    assert entry["provider_name"] == "dev" and entry["user_id"] == "dana"
    assert {"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": "approver"} in \
        entry["user_claims"]
    out = browser.get("/.auth/logout?post_logout_redirect_uri=/api/whoami")
    assert (out.status_code, out.headers["location"]) == (302, "/api/whoami")
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert browser.get("/.auth/me").status_code == 401
    assert _whoami(browser)["headers"] == {}


def test_without_a_valid_cookie_client_headers_pass_unchanged(auth_host: HostThread) -> None:
    sent = encode_principal("erin", ["approver"])
    with httpx.Client(base_url=auth_host.base_url, timeout=20) as plain:
        seen = _whoami(plain, sent)["headers"]
        assert principal_from_headers(seen) == principal_from_headers(sent)
        plain.cookies.set(COOKIE_NAME, "e30.forged")
        assert principal_from_headers(_whoami(plain, sent)["headers"]) == principal_from_headers(sent)


def test_app_is_told_where_to_sign_in_and_redirects_stay_on_the_host(browser: httpx.Client) -> None:
    assert _whoami(browser)["loginPath"] == "/.auth/login/dev"
    r = browser.get("/.auth/login/dev?name=bob&post_login_redirect_uri=https://evil.example/")
    assert r.headers["location"] == "/.auth/login/done"
    assert safe_redirect("//evil.example/x", "/d") == "/d"
    assert safe_redirect("/\\evil.example", "/d") == "/d"
    assert safe_redirect("/api/inbox?tab=mine", "/d") == "/api/inbox?tab=mine"


def test_emulation_can_be_turned_off(tmp_path: Path) -> None:
    with run_host(APP, data_dir=tmp_path, settings={"DEVHOST_AUTH_EMULATION": "false"}) as host, \
            httpx.Client(base_url=host.base_url, timeout=20) as c:
        assert c.get("/.auth/login/dev").status_code == 404
        assert not c.get("/api/whoami").json()["loginPath"]  # empty: the app falls back to /.auth/login/aad


def test_signer_rejects_forged_and_expired_sessions() -> None:
    now = [1_000_000.0]
    signer = SessionSigner(b"k" * 32, now=lambda: now[0])
    value = signer.issue("bob", ("approver",), lifetime_s=60)
    session = signer.check(value)
    assert session is not None and (session.name, session.roles) == ("bob", ("approver",))
    assert SessionSigner(b"x" * 32, now=lambda: now[0]).check(value) is None
    body, _, sig = value.partition(".")
    assert signer.check(body[:-2] + "xx." + sig) is None
    now[0] += 61
    assert signer.check(value) is None


def test_parse_sign_in() -> None:
    assert parse_sign_in(" bob ", "approver, admin approver") == ("bob", ("approver", "admin"))
    assert parse_sign_in("bob", None) == ("bob", ())
    assert parse_sign_in("", "x") == "Name is required."
    assert isinstance(parse_sign_in("a\x00b", ""), str)


def test_non_ascii_name_travels_in_the_name_claim(browser: httpx.Client) -> None:
    browser.post("/.auth/login/dev", data={"name": "zoë", "roles": "approver"})
    seen = _whoami(browser)["headers"]
    assert "x-ms-client-principal-name" not in seen
    principal = principal_from_headers(seen)
    assert principal is not None and principal.name == "zoë"
