"""The caller's identity from App Service Authentication (Easy Auth) headers.

When App Service Authentication is on, the platform strips any client-sent ``X-MS-CLIENT-PRINCIPAL*``
headers and injects its own (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities):

- ``X-MS-CLIENT-PRINCIPAL``: base64 of JSON
  ``{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}]}``;
  the roles are the claims whose ``typ`` equals ``role_typ`` (``roles`` is accepted too);
- ``X-MS-CLIENT-PRINCIPAL-NAME``: the identity's name (compared with a case's requester);
- ``X-MS-CLIENT-PRINCIPAL-IDP``: the identity provider (``aad``, ``github``, ...).

Locally (devhost) tests send these headers themselves. This module trusts them as the platform would; the
deployment must keep App Service Authentication on for the decision endpoints.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRINCIPAL_HEADER = "x-ms-client-principal"
PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"
PRINCIPAL_IDP_HEADER = "x-ms-client-principal-idp"
DEFAULT_ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
DEFAULT_NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


class MalformedPrincipal(ValueError):
    """The ``X-MS-CLIENT-PRINCIPAL`` header is present but not base64 JSON of the documented shape."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``name`` (the identity), ``roles`` and the identity provider (or None)."""

    name: str
    roles: frozenset[str]
    identity_provider: str | None = None

    def has_any_role(self, roles: set[str] | frozenset[str] | list[str] | tuple[str, ...]) -> bool:
        """True when the caller holds at least one of ``roles`` (exact, case-sensitive match)."""
        return not self.roles.isdisjoint(roles)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup; empty values count as missing."""
    for key, value in headers.items():
        if key.lower() == name:
            return (value.strip() or None) if isinstance(value, str) else None
    return None


def _decode(raw: str) -> dict[str, Any]:
    padded = raw + "=" * (-len(raw) % 4)
    try:
        decoded = base64.b64decode(padded, validate=False)
        document = json.loads(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL is not base64-encoded JSON") from exc
    if not isinstance(document, dict):
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL must encode a JSON object")
    claims = document.get("claims", [])
    if not isinstance(claims, list) or not all(
        isinstance(c, dict) and isinstance(c.get("typ"), str) and isinstance(c.get("val"), str)
        for c in claims
    ):
        raise MalformedPrincipal("X-MS-CLIENT-PRINCIPAL claims must be a list of {typ, val} strings")
    return document


def principal_from_headers(headers: Mapping[str, str]) -> Principal | None:
    """The caller from App Service Authentication headers, or None when no identity is present.

    Name: ``X-MS-CLIENT-PRINCIPAL-NAME``, else the principal's claim of type ``name_typ``. Roles: claims of
    type ``role_typ`` (default the Microsoft role claim URI) or ``roles``. Identity provider:
    ``X-MS-CLIENT-PRINCIPAL-IDP``, else the principal's ``auth_typ``.

    Raises :class:`MalformedPrincipal` when ``X-MS-CLIENT-PRINCIPAL`` cannot be decoded, or when it is present
    but no name can be found.
    """
    raw = _header(headers, PRINCIPAL_HEADER)
    name = _header(headers, PRINCIPAL_NAME_HEADER)
    idp = _header(headers, PRINCIPAL_IDP_HEADER)
    if raw is None:
        if name is None:
            return None
        return Principal(name=name, roles=frozenset(), identity_provider=idp)

    document = _decode(raw)
    claims: list[dict[str, str]] = document.get("claims", [])
    role_typ = document.get("role_typ") or DEFAULT_ROLE_TYP
    name_typ = document.get("name_typ") or DEFAULT_NAME_TYP
    roles = frozenset(c["val"] for c in claims if c["typ"] in (role_typ, "roles"))
    if name is None:
        name = next((c["val"] for c in claims if c["typ"] == name_typ and c["val"].strip()), None)
    if name is None:
        raise MalformedPrincipal("no identity name: send X-MS-CLIENT-PRINCIPAL-NAME or a name_typ claim")
    auth_typ = document.get("auth_typ")
    return Principal(
        name=name,
        roles=roles,
        identity_provider=idp or (auth_typ if isinstance(auth_typ, str) and auth_typ else None),
    )


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
