"""DEVELOPMENT ONLY: devhost's emulation of App Service Authentication ("Easy Auth") sign-in.

In Azure, App Service Authentication sits in front of the app: it signs people in at
``/.auth/login/<provider>``, keeps them in a session cookie (``AppServiceAuthSession``), strips any
``X-MS-CLIENT-PRINCIPAL*`` header a client sends and injects its own on every request
(https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities), answers
``/.auth/me`` with the signed-in user's claims and ``/.auth/logout`` by ending the session
(https://learn.microsoft.com/azure/app-service/configure-authentication-customize-sign-in-out).

devhost emulates that for a made-up provider ``dev`` so people can use the app's pages locally. Anyone can
sign in as anyone with any roles: it only ever runs on devhost, which listens on 127.0.0.1 only, and it is
never part of a deployment (``.funcignore`` drops ``devhost/``). Set the app setting
``DEVHOST_AUTH_EMULATION=false`` to turn it off.

- ``GET /.auth/login/dev`` shows a form with the fields **Name** and **Roles** (comma-separated);
  ``POST`` of that form, or
  ``GET /.auth/login/dev?name=bob&roles=approver,admin&post_login_redirect_uri=/api/inbox``, signs in:
  sets the session cookie and redirects (302) to ``post_login_redirect_uri`` (a path on this host;
  default ``/.auth/login/done``). Invalid input → 400 with the form and the problem named.
- ``GET /.auth/me`` → 200 ``[{"provider_name": "dev", "user_id", "user_claims": [{"typ", "val"}], ...}]``
  when signed in, else 401.
- ``GET /.auth/logout[?post_logout_redirect_uri=/path]`` clears the cookie and redirects (default
  ``/.auth/logout/complete``).
- Every other request that carries a valid session cookie reaches the app with the client's
  ``X-MS-CLIENT-PRINCIPAL*`` headers removed and devhost's own ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON
  ``{"auth_typ", "name_typ", "role_typ", "claims"}``), ``-NAME`` (ASCII names; the name claim always
  has it), ``-ID`` and ``-IDP`` added, as Easy Auth does. Requests without a (valid) cookie pass
  unchanged, so tests and scripts that send principal headers themselves keep working.

The cookie is ``<base64url JSON {"name", "roles", "exp"}>.<base64url HMAC-SHA256>`` keyed by a random key made
when the host starts (sessions end with the host); ``exp`` is Unix seconds (wall clock, 8 hours).
devhost tells the app it emulates sign-in through the app setting ``DEVHOST_AUTH_LOGIN_PATH``
(``/.auth/login/dev``), so the app's pages send people there instead of ``/.auth/login/aad``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE_NAME = "AppServiceAuthSession"
PROVIDER = "dev"
LOGIN_PATH = "/.auth/login/dev"
#: App setting devhost sets for the app: where its pages should send people to sign in.
LOGIN_PATH_SETTING = "DEVHOST_AUTH_LOGIN_PATH"
#: App setting that turns the emulation off (``false``/``0``/``off``/``no``); on by default.
ENABLE_SETTING = "DEVHOST_AUTH_EMULATION"
SESSION_S = 8 * 3600
NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
_PRINCIPAL_PREFIX = b"x-ms-client-principal"
_ROLE = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")
_MAX_NAME = 256
_MAX_FORM_BYTES = 16 * 1024


def enabled(setting_value: str | None) -> bool:
    """True unless ``DEVHOST_AUTH_EMULATION`` says ``false``, ``0``, ``off`` or ``no``."""
    return (setting_value or "").strip().lower() not in ("false", "0", "off", "no")


@dataclass(frozen=True)
class Session:
    """A signed-in person: ``name`` and ``roles``; ``expires`` in Unix seconds."""

    name: str
    roles: tuple[str, ...]
    expires: int

    @property
    def user_id(self) -> str:
        """A stable id for the name (what ``X-MS-CLIENT-PRINCIPAL-ID`` carries)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"devhost-user:{self.name}"))

    def claims(self) -> list[dict[str, str]]:
        """The principal's claims: the name, then one per role."""
        return [{"typ": NAME_TYP, "val": self.name}] + [{"typ": ROLE_TYP, "val": r} for r in self.roles]

    def principal_headers(self) -> list[tuple[bytes, bytes]]:
        """The ``X-MS-CLIENT-PRINCIPAL*`` headers Easy Auth would inject (lower-case names, ASCII values)."""
        document = {"auth_typ": PROVIDER, "name_typ": NAME_TYP, "role_typ": ROLE_TYP, "claims": self.claims()}
        encoded = base64.b64encode(json.dumps(document, ensure_ascii=True).encode()).decode()
        headers = [
            (b"x-ms-client-principal", encoded.encode()),
            (b"x-ms-client-principal-id", self.user_id.encode()),
            (b"x-ms-client-principal-idp", PROVIDER.encode()),
        ]
        if self.name.isascii():  # header values are Latin-1 text; the name claim always carries the name
            headers.append((b"x-ms-client-principal-name", self.name.encode()))
        return headers


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks session cookies with HMAC-SHA256 under ``key`` (random when not given)."""

    def __init__(self, key: bytes | None = None, *, now: Callable[[], float] = time.time) -> None:
        self._key = key or secrets.token_bytes(32)
        self._now = now

    def issue(self, name: str, roles: tuple[str, ...], lifetime_s: int = SESSION_S) -> str:
        """A cookie value for ``name`` with ``roles``, valid ``lifetime_s`` seconds from now."""
        body = _b64(json.dumps({"name": name, "roles": list(roles), "exp": int(self._now()) + lifetime_s},
                               separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def check(self, value: str) -> Session | None:
        """The session of a cookie value, or None when it is malformed, forged or expired."""
        body, _, signature = value.partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(_unb64(body))
            session = Session(str(data["name"]), tuple(str(r) for r in data["roles"]), int(data["exp"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        return session if session.expires > self._now() else None

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def parse_sign_in(name: str | None, roles: str | None) -> tuple[str, tuple[str, ...]] | str:
    """``(name, roles)`` from the form fields, or the problem as text: the name is required (at most
    256 characters, no control characters); roles are comma- or space-separated words of letters, digits
    and ``. _ : @ -`` (at most 64 characters each)."""
    name = (name or "").strip()
    if not name:
        return "Name is required."
    if len(name) > _MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "Name must be at most 256 characters without control characters."
    parts = [r for r in re.split(r"[,\s]+", roles or "") if r]
    bad = [r for r in parts if not _ROLE.match(r)]
    if bad:
        return f"Roles must be words of letters, digits and . _ : @ - (not {bad[0][:64]!r})."
    return name, tuple(dict.fromkeys(parts))


def safe_redirect(target: str | None, default: str) -> str:
    """``target`` when it is a path on this host (``/...`` but not ``//`` or ``/\\``), else ``default``:
    the sign-in pages never redirect off the host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 for c in target):
        return default
    return target


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}"
    ".dev{background:#fff4ce;border:2px solid #8a5300;padding:.5rem .75rem;border-radius:4px}"
    "label{display:block;margin-top:1rem;font-weight:600}input{font-size:1rem;padding:.4rem;width:100%;"
    "box-sizing:border-box;border:1px solid #555}"
    "button{margin-top:1.2rem;font-size:1rem;padding:.5rem 1.2rem;"
    "background:#0b5cad;color:#fff;border:0;border-radius:4px}"
    ":focus-visible{outline:3px solid #c50;outline-offset:2px}.error{color:#a4000f;font-weight:600}"
    ".hint{color:#444;font-size:.9rem}"
)


def _page(title: str, body: str) -> bytes:
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<style>{_STYLE}</style></head>"
        f"<body><main><p class=\"dev\" role=\"note\"><strong>Development sign-in (devhost only).</strong> "
        f"Anyone can sign in as anyone here; in Azure, App Service Authentication signs people in.</p>"
        f"{body}</main></body></html>"
    ).encode()


def login_form(redirect: str, error: str | None = None, name: str = "", roles: str = "") -> bytes:
    """The sign-in form page (fields Name and Roles)."""
    problem = f"<p class=\"error\" role=\"alert\">{html.escape(error)}</p>" if error else ""
    return _page(
        "Sign in (development)",
        f"<h1>Sign in</h1>{problem}"
        f"<form method=\"post\" action=\"{LOGIN_PATH}\">"
        f"<input type=\"hidden\" name=\"post_login_redirect_uri\" value=\"{html.escape(redirect)}\">"
        f"<label for=\"name\">Name</label><input id=\"name\" name=\"name\" required maxlength=\"256\" "
        f"autocomplete=\"username\" value=\"{html.escape(name)}\">"
        f"<label for=\"roles\">Roles</label>"
        f"<input id=\"roles\" name=\"roles\" value=\"{html.escape(roles)}\" "
        f"aria-describedby=\"roles-hint\"><p id=\"roles-hint\" class=\"hint\">Comma-separated, e.g. "
        f"approver, admin. Leave empty for none.</p>"
        f"<button type=\"submit\">Sign in</button></form>",
    )


class EasyAuthEmulation:
    """ASGI middleware: serves ``/.auth/*`` and turns a session cookie into principal headers (see the
    module docstring). ``signer`` defaults to a fresh random key."""

    def __init__(self, app: ASGIApp, signer: SessionSigner | None = None) -> None:
        self.app = app
        self.signer = signer or SessionSigner()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path == "/.auth" or path.startswith("/.auth/"):
            await self._auth_route(scope, receive, send, path)
            return
        session = self._session(scope)
        if session is not None:
            headers = [
                (k, v) for k, v in scope.get("headers", []) if not k.lower().startswith(_PRINCIPAL_PREFIX)
            ]
            scope = dict(scope, headers=headers + session.principal_headers())
        await self.app(scope, receive, send)

    def _session(self, scope: Scope) -> Session | None:
        for key, value in scope.get("headers", []):
            if key.lower() != b"cookie":
                continue
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # http.cookies raises CookieError on odd cookies: ignore them
                continue
            morsel = jar.get(COOKIE_NAME)
            if morsel is not None:
                return self.signer.check(morsel.value)
        return None

    async def _auth_route(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method = scope.get("method", "GET")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if path == LOGIN_PATH and method in ("GET", "HEAD"):
            if "name" in query:
                await self._sign_in(send, query)
            else:
                redirect = safe_redirect(query.get("post_login_redirect_uri"), "/.auth/login/done")
                await _respond(send, 200, login_form(redirect))
        elif path == LOGIN_PATH and method == "POST":
            body = await _read_body(receive)
            form = dict(parse_qsl(body.decode("utf-8", "replace"))) if body is not None else {}
            await self._sign_in(send, {**query, **form})
        elif path == "/.auth/login/done":
            session = self._session(scope)
            who = f"Signed in as {html.escape(session.name)}." if session else "Not signed in."
            await _respond(send, 200, _page("Signed in", f"<h1>{who}</h1>"))
        elif path == "/.auth/me" and method in ("GET", "HEAD"):
            session = self._session(scope)
            if session is None:
                await _respond(send, 401, b'{"error": "not signed in"}', "application/json")
                return
            me = [{"provider_name": PROVIDER, "user_id": session.name, "user_claims": session.claims(),
                   "access_token": None, "id_token": None,
                   "expires_on": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.expires))}]
            await _respond(send, 200, json.dumps(me).encode(), "application/json")
        elif path == "/.auth/logout":
            target = safe_redirect(query.get("post_logout_redirect_uri"), "/.auth/logout/complete")
            await _respond(send, 302, b"", headers=[
                (b"location", target.encode("latin-1")),
                (b"set-cookie", f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax".encode()),
            ])
        elif path == "/.auth/logout/complete":
            await _respond(send, 200, _page("Signed out", "<h1>You have signed out.</h1>"
                                            f"<p><a href=\"{LOGIN_PATH}\">Sign in again</a></p>"))
        else:
            await _respond(send, 404, _page("Not found", "<h1>Not found</h1>"))

    async def _sign_in(self, send: Send, fields: dict[str, str]) -> None:
        redirect = safe_redirect(fields.get("post_login_redirect_uri"), "/.auth/login/done")
        parsed = parse_sign_in(fields.get("name"), fields.get("roles"))
        if isinstance(parsed, str):
            page = login_form(redirect, parsed, fields.get("name", ""), fields.get("roles", ""))
            await _respond(send, 400, page)
            return
        name, roles = parsed
        value = self.signer.issue(name, roles)
        cookie = f"{COOKIE_NAME}={value}; Path=/; Max-Age={SESSION_S}; HttpOnly; SameSite=Lax"
        await _respond(send, 302, b"", headers=[(b"location", redirect.encode("latin-1")),
                                                 (b"set-cookie", cookie.encode())])


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    all_headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", b"no-store")] + (headers or [])
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
