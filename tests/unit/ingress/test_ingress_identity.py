"""App Service Authentication headers → Principal."""

from __future__ import annotations

import base64
import json

import pytest

from shared.identity import MalformedPrincipal, Principal, encode_principal, principal_from_headers


def principal_header(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_roles_are_the_claims_of_role_typ():
    """Roles come from claims whose typ equals the principal's role_typ; the name from the name header."""
    headers = {
        "X-MS-CLIENT-PRINCIPAL": principal_header(
            {
                "auth_typ": "aad",
                "name_typ": "name",
                "role_typ": "role",
                "claims": [
                    {"typ": "role", "val": "approver"},
                    {"typ": "role", "val": "admin"},
                    {"typ": "groups", "val": "g1"},
                ],
            }
        ),
        "X-MS-CLIENT-PRINCIPAL-NAME": "alice@contoso.com",
    }

    assert principal_from_headers(headers) == Principal(
        "alice@contoso.com", frozenset({"approver", "admin"}), "aad"
    )


def test_roles_claim_type_is_accepted_too():
    """Claims of typ 'roles' count as roles whatever role_typ says."""
    headers = {
        "x-ms-client-principal": principal_header(
            {"role_typ": "r", "claims": [{"typ": "roles", "val": "admin"}]}
        ),
        "x-ms-client-principal-name": "bob",
    }

    principal = principal_from_headers(headers)

    assert principal is not None and principal.roles == frozenset({"admin"})


def test_name_falls_back_to_the_name_claim():
    """Without the name header, the claim of type name_typ names the caller."""
    headers = {
        "X-MS-CLIENT-PRINCIPAL": principal_header(
            {"name_typ": "n", "role_typ": "r", "claims": [{"typ": "n", "val": "carol"}]}
        )
    }

    principal = principal_from_headers(headers)

    assert principal is not None and principal.name == "carol" and principal.roles == frozenset()


def test_no_headers_means_no_identity():
    """Without any principal header there is no caller (the endpoint answers 401)."""
    assert principal_from_headers({"Content-Type": "application/json"}) is None


def test_name_only_gives_a_principal_without_roles():
    """X-MS-CLIENT-PRINCIPAL-NAME alone identifies the caller with no roles."""
    assert principal_from_headers({"X-MS-CLIENT-PRINCIPAL-NAME": "dave"}) == Principal("dave", frozenset())


@pytest.mark.parametrize(
    "raw",
    [
        "%%%not-base64%%%",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(json.dumps({"claims": [{"typ": 1}]}).encode()).decode(),
    ],
)
def test_malformed_principal_raises(raw):
    """A principal header that is not base64 JSON of the documented shape raises MalformedPrincipal."""
    with pytest.raises(MalformedPrincipal):
        principal_from_headers({"X-MS-CLIENT-PRINCIPAL": raw, "X-MS-CLIENT-PRINCIPAL-NAME": "x"})


def test_principal_without_any_name_raises():
    """A principal with no name header and no name claim is malformed."""
    with pytest.raises(MalformedPrincipal):
        principal_from_headers({"X-MS-CLIENT-PRINCIPAL": principal_header({"claims": []})})


def test_encode_principal_round_trips():
    """encode_principal builds the headers App Service would send."""
    principal = principal_from_headers(encode_principal("erin", ["approver"], "github"))

    assert principal == Principal("erin", frozenset({"approver"}), "github")
    assert principal.has_any_role(["admin", "approver"])
    assert not principal.has_any_role(["admin"])
