"""Bounded HTTP fuzz run (issue 10) over every route of the app's OpenAPI document (``/api/openapi.json``):
no 5xx, and no request hangs (each request carries a generous 60 s timeout; hitting it fails).

Hypothesis (pinned in requirements-dev.txt) generates, per operation of the served document: path
parameters (any text, URL-encoded, NUL and slashes included), the principal headers (a valid App Service
principal with random roles, garbage, or none), and bodies (schema-shaped JSON with arbitrary values,
arbitrary JSON, arbitrary bytes, wrong content types). Bounded by ``max_examples`` per operation.

No timing is asserted (the no-wall-clock rule: the suite runs on a loaded 2-core machine, in parallel
workers): the per-request timeout only catches a request that never gets an answer (a deadlock, a handler
stuck in a loop). A normal answer takes milliseconds; 60 s is far beyond any scheduling delay and still
well inside the suite's 300 s per-test timeout.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.identity import encode_principal

pytestmark = [pytest.mark.azurite]

#: A hang check, not a speed bound (module docstring).
REQUEST_TIMEOUT_S = 60.0
EXAMPLES_PER_OPERATION = 30

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Header values must be ASCII without surrounding blanks on the wire (httpx/h11 refuse them unsent).
ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip)
principals = st.one_of(
    st.none(),
    st.builds(
        lambda name, roles: encode_principal(name, roles),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
        st.lists(st.sampled_from(["approver", "admin", "auditor", "nobody"]), max_size=3),
    ),
    st.dictionaries(
        st.sampled_from(["X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-NAME", "X-MS-CLIENT-PRINCIPAL-ID"]),
        ascii_text,
        max_size=3,
    ),
)
path_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["case-0123456789abcdef0123456789abcdef", "..", "%00", "a" * 300, "case\x00x"]),
)


def schema_body(schema: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """JSON shaped like ``schema`` (its properties, any subset) with arbitrary values, or anything JSON."""
    if not schema or schema.get("type") != "object":
        return json_values
    props = schema.get("properties", {})
    shaped = st.fixed_dictionaries(
        {},
        optional={
            k: (st.sampled_from(v["enum"]) | json_values) if "enum" in v else json_values
            for k, v in props.items()
        },
    )
    return st.one_of(shaped, json_values)


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in sorted(spec["paths"].items())
        for method, op in sorted(item.items())
    ]


@pytest.fixture
def spec(app) -> dict[str, Any]:
    r = app.client.http.get(f"{app.client.base}/api/openapi.json")
    assert r.status_code == 200, r.text
    return r.json()


def test_openapi_document_lists_every_route(spec):
    """The served document covers the app's routes (case API, ingress, health, itself)."""
    paths = set(spec["paths"])
    assert {"/api/events", "/api/cases/{id}", "/api/cases/{id}/audit", "/api/cases/{id}/decision",
            "/api/approvals", "/api/health", "/api/openapi.json"} <= paths


def test_fuzz_every_operation_no_5xx_no_hang(app, spec):
    """Each operation of the document gets ``EXAMPLES_PER_OPERATION`` generated requests."""
    base = app.client.base
    client = httpx.Client(timeout=REQUEST_TIMEOUT_S)
    failures: list[str] = []
    sent = 0

    def fuzz(method: str, path: str, op: dict[str, Any]) -> None:
        nonlocal sent
        body_schema = (
            op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        )
        params = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            values=st.fixed_dictionaries({p: path_values for p in params}),
            who=principals,
            body=st.one_of(
                schema_body(body_schema).map(lambda v: ("application/json", json.dumps(v).encode())),
                st.binary(max_size=200).map(lambda b: ("application/json", b)),
                st.text(max_size=100).map(lambda t: ("text/plain", t.encode())),
            ),
        )
        def one(values: dict[str, str], who: Any, body: tuple[str, bytes]) -> None:
            nonlocal sent
            url = base + path
            for name, value in values.items():
                url = url.replace("{" + name + "}", quote(value, safe=""))
            headers = dict(who or {})
            content = None
            if method in ("POST", "PUT", "PATCH"):
                headers["Content-Type"], content = body
            try:
                r = client.request(method, url, headers=headers, content=content)
            except httpx.TimeoutException:
                failures.append(f"{method} {url}: no answer within {REQUEST_TIMEOUT_S} s (hung)")
                return
            sent += 1
            if r.status_code >= 500:
                failures.append(f"{method} {url} -> {r.status_code}: {r.text[:200]}")

        one()

    for method, path, op in operations(spec):
        fuzz(method, path, op)
    client.close()
    assert not failures, "\n".join(failures[:20])
    assert sent >= EXAMPLES_PER_OPERATION * len(operations(spec)) // 2
