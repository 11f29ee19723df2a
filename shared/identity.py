"""The caller's identity from App Service Authentication (Easy Auth), and how identities are compared.

When App Service Authentication is on, the platform strips any client-sent ``X-MS-CLIENT-PRINCIPAL*``
headers and injects its own (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities):

- ``X-MS-CLIENT-PRINCIPAL``: base64 of JSON
  ``{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}]}``;
- ``X-MS-CLIENT-PRINCIPAL-NAME``: the identity's name;
- ``X-MS-CLIENT-PRINCIPAL-IDP``: the identity provider (``aad``, ``github``, ...).

Trust rules (fail closed, docs/security.md):

- In Azure (``WEBSITE_INSTANCE_ID`` set) the headers are trusted only when ``WEBSITE_AUTH_ENABLED`` is
  ``True`` (the platform then owns them); otherwise :class:`AuthenticationNotConfigured` is raised and the
  identity routes answer 401 naming App Service Authentication. Locally (devhost) tests send the headers.
- A principal is the ``X-MS-CLIENT-PRINCIPAL`` document; a bare ``X-MS-CLIENT-PRINCIPAL-NAME`` is no
  identity. The name is the claim of type ``name_typ``; a NAME header that disagrees with it is refused.
- Roles are the claims of type ``role_typ`` only (never ``groups``, never the name claim: a ``role_typ``
  equal to ``name_typ`` or naming a groups claim is refused).

Identities are compared by :func:`identity_key` (``shared.confusables``): NFKC, case folding,
default-ignorable code points removed, then the UTS #39 confusable skeleton, so ``ａｌｉｃｅ``,
``alice\\u200b``, Cyrillic ``аlice``, ``alice\\u0301`` and ``ALİCE`` are all ``alice``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.case_errors import ConfigurationError, InputError
from shared.confusables import identity_key

PRINCIPAL_HEADER = "x-ms-client-principal"
PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"
PRINCIPAL_IDP_HEADER = "x-ms-client-principal-idp"
DEFAULT_ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
DEFAULT_NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
#: Claim types that carry group memberships, never roles.
GROUP_CLAIM_TYPES = frozenset({"groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"})
#: Longest identity name accepted (UPNs are at most 113 characters; GitHub logins 39).
MAX_NAME_CHARS = 256
#: Longest principal header accepted (Easy Auth documents are a few KB; anything larger is refused).
MAX_PRINCIPAL_CHARS = 16384

__all__ = [
    "AuthenticationNotConfigured",
    "MalformedPrincipal",
    "Principal",
    "encode_principal",
    "identity_key",
    "platform_auth_required",
    "principal_from_headers",
    "same_identity",
]


class MalformedPrincipal(InputError, ValueError):
    """The principal headers are present but unusable: not base64 JSON of the documented shape, no name
    claim, a NAME header that disagrees with the claims, or a role claim type naming the name or groups."""


class AuthenticationNotConfigured(ConfigurationError, RuntimeError):
    """Running in Azure without App Service Authentication: client-sent principal headers prove nothing."""

    message = (
        "unauthenticated: App Service Authentication is not enabled for this app "
        "(WEBSITE_AUTH_ENABLED is not True), so X-MS-CLIENT-PRINCIPAL headers are not trusted"
    )

    def __init__(self) -> None:
        super().__init__(self.message)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``name`` (the identity), ``roles`` and the identity provider (or None)."""

    name: str
    roles: frozenset[str]
    identity_provider: str | None = None

    def has_any_role(self, roles: set[str] | frozenset[str] | list[str] | tuple[str, ...]) -> bool:
        """True when the caller holds at least one of ``roles`` (exact, case-sensitive match)."""
        return not self.roles.isdisjoint(roles)

    @property
    def key(self) -> str:
        """:func:`identity_key` of the name (what every identity comparison uses)."""
        return identity_key(self.name)


def same_identity(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name the same identity after :func:`identity_key` (look-alikes match)."""
    return identity_key(a) == identity_key(b)


def platform_auth_required(environ: Mapping[str, str] | None = None) -> bool:
    """True when running in Azure (``WEBSITE_INSTANCE_ID`` set) without ``WEBSITE_AUTH_ENABLED=True``:
    principal headers must then be ignored (https://learn.microsoft.com/azure/app-service/reference-app-settings)."""
    env = os.environ if environ is None else environ
    in_azure = bool((env.get("WEBSITE_INSTANCE_ID") or "").strip())
    return in_azure and (env.get("WEBSITE_AUTH_ENABLED") or "").strip().lower() != "true"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup; empty values count as missing."""
    for key, value in headers.items():
        if key.lower() == name:
            return (value.strip() or None) if isinstance(value, str) else None
    return None


def _as_latin1(text: str) -> str:
    """``text`` as an HTTP stack that decodes header bytes as ISO-8859-1 shows UTF-8 (non-ASCII names)."""
    return text.encode("utf-8").decode("latin-1")


def _decode(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_PRINCIPAL_CHARS:
        raise MalformedPrincipal(f"X-MS-CLIENT-PRINCIPAL is longer than {MAX_PRINCIPAL_CHARS} characters")
    padded = raw + "=" * (-len(raw) % 4)
    try:
        decoded = base64.b64decode(padded, validate=False)
        document = json.loads(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL is not base64-encoded JSON") from exc
    if not isinstance(document, dict):
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL must encode a JSON object")
    claims = document.get("claims", [])
    if not isinstance(claims, list) or not all(
        isinstance(c, dict) and isinstance(c.get("typ"), str) and isinstance(c.get("val"), str)
        for c in claims
    ):
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL claims must be a list of {typ, val} strings")
    for field in ("auth_typ", "name_typ", "role_typ"):
        if document.get(field) is not None and not isinstance(document.get(field), str):
            raise MalformedPrincipal(f"X-MS-CLIENT-PRINCIPAL {field} must be a string")
    return document


def principal_from_headers(
    headers: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> Principal | None:
    """The caller from App Service Authentication headers, or None when no principal is present.

    Name: the principal's claim of type ``name_typ`` (default the WS-Fed name claim URI); when
    ``X-MS-CLIENT-PRINCIPAL-NAME`` is sent it must equal that claim. Roles: claims of type ``role_typ``
    (default the Microsoft role claim URI). Identity provider: ``X-MS-CLIENT-PRINCIPAL-IDP``, else
    ``auth_typ``. ``environ`` (default ``os.environ``) decides whether the headers may be trusted at all.

    Raises :class:`AuthenticationNotConfigured` in Azure without App Service Authentication, and
    :class:`MalformedPrincipal` (see there).
    """
    if platform_auth_required(environ):
        raise AuthenticationNotConfigured()
    raw = _header(headers, PRINCIPAL_HEADER)
    header_name = _header(headers, PRINCIPAL_NAME_HEADER)
    idp = _header(headers, PRINCIPAL_IDP_HEADER)
    if raw is None:
        return None
    document = _decode(raw)
    claims: list[dict[str, str]] = document.get("claims", [])
    role_typ = document.get("role_typ") or DEFAULT_ROLE_TYP
    name_typ = document.get("name_typ") or DEFAULT_NAME_TYP
    if role_typ == name_typ or role_typ in GROUP_CLAIM_TYPES:
        raise MalformedPrincipal(
            "X-MS-CLIENT-PRINCIPAL role_typ must name a role claim, not the name or groups claim"
        )
    names = {c["val"].strip() for c in claims if c["typ"] == name_typ and c["val"].strip()}
    if len(names) != 1:
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL must carry exactly one name_typ claim")
    name = names.pop()
    if header_name is not None and header_name not in (name, _as_latin1(name).strip()):
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL-NAME disagrees with the principal's name claim")
    if not identity_key(name):
        raise MalformedPrincipal("the principal's name claim is empty once normalized")
    if len(name) > MAX_NAME_CHARS:
        raise MalformedPrincipal(f"the principal's name claim is longer than {MAX_NAME_CHARS} characters")
    roles = frozenset(c["val"] for c in claims if c["typ"] == role_typ)
    auth_typ = document.get("auth_typ")
    return Principal(name=name, roles=roles, identity_provider=idp or (auth_typ or None))


def encode_principal(
    name: str, roles: list[str] | tuple[str, ...], identity_provider: str = "aad"
) -> dict[str, str]:
    """Headers App Service Authentication would send for ``name`` with ``roles`` (for tests, demos, curl).

    Returns ``{"X-MS-CLIENT-PRINCIPAL": <base64 JSON>, "X-MS-CLIENT-PRINCIPAL-NAME": name,
    "X-MS-CLIENT-PRINCIPAL-IDP": identity_provider}``.
    """
    document = {
        "auth_typ": identity_provider,
        "name_typ": DEFAULT_NAME_TYP,
        "role_typ": DEFAULT_ROLE_TYP,
        "claims": [{"typ": DEFAULT_NAME_TYP, "val": name}]
        + [{"typ": DEFAULT_ROLE_TYP, "val": r} for r in roles],
    }
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(document).encode()).decode(),
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
        "X-MS-CLIENT-PRINCIPAL-IDP": identity_provider,
    }
