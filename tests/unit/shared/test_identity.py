"""App Service Authentication headers → Principal."""

from __future__ import annotations

import base64
import json

import pytest

from shared.identity import (
    AuthenticationNotConfigured,
    MalformedPrincipal,
    Principal,
    encode_principal,
    principal_from_headers,
)


def principal_header(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_roles_are_the_claims_of_role_typ():
    """Roles come from claims whose typ equals the principal's role_typ (never groups); the name from the
    name_typ claim, which the name header must equal."""
    headers = {
        "X-MS-CLIENT-PRINCIPAL": principal_header(
            {
                "auth_typ": "aad",
                "name_typ": "name",
                "role_typ": "role",
                "claims": [
                    {"typ": "name", "val": "alice@contoso.com"},
                    {"typ": "role", "val": "approver"},
                    {"typ": "role", "val": "admin"},
                    {"typ": "groups", "val": "g1"},
                    {"typ": "roles", "val": "auditor"},
                ],
            }
        ),
        "X-MS-CLIENT-PRINCIPAL-NAME": "alice@contoso.com",
    }

    assert principal_from_headers(headers) == Principal(
        "alice@contoso.com", frozenset({"approver", "admin"}), "aad"
    )


@pytest.mark.parametrize(
    "role_typ", ["n", "groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"]
)
def test_role_typ_naming_the_name_or_groups_claim_is_refused(role_typ):
    """A client-chosen role_typ that would turn the name or the groups into roles is refused."""
    document = {"name_typ": "n", "role_typ": role_typ, "claims": [{"typ": "n", "val": "admin"}]}
    with pytest.raises(MalformedPrincipal):
        principal_from_headers({"X-MS-CLIENT-PRINCIPAL": principal_header(document)})


def test_name_header_that_disagrees_with_the_claims_is_refused():
    """X-MS-CLIENT-PRINCIPAL-NAME must equal the name_typ claim."""
    headers = encode_principal("mallory", ["approver"])
    headers["X-MS-CLIENT-PRINCIPAL-NAME"] = "alice"
    with pytest.raises(MalformedPrincipal):
        principal_from_headers(headers)


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


def test_name_only_is_no_identity():
    """X-MS-CLIENT-PRINCIPAL-NAME alone identifies nobody (anyone can send a header)."""
    assert principal_from_headers({"X-MS-CLIENT-PRINCIPAL-NAME": "dave"}) is None


def test_azure_without_app_service_authentication_trusts_no_header():
    """WEBSITE_INSTANCE_ID set and WEBSITE_AUTH_ENABLED not True: the headers prove nothing."""
    headers = encode_principal("erin", ["approver"])
    for auth in ({}, {"WEBSITE_AUTH_ENABLED": "False"}):
        with pytest.raises(AuthenticationNotConfigured, match="App Service Authentication"):
            principal_from_headers(headers, {"WEBSITE_INSTANCE_ID": "abc", **auth})
    trusted = principal_from_headers(headers, {"WEBSITE_INSTANCE_ID": "abc", "WEBSITE_AUTH_ENABLED": "True"})
    assert trusted is not None and trusted.name == "erin"


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
