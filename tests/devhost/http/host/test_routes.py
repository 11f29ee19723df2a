"""Every route template form and constraint, over real HTTP against a df.DFApp with an empty prefix."""

from collections.abc import Iterator

import httpx
import pytest

from devhost.testing import HostThread


@pytest.fixture
def http(routes_host: HostThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=routes_host.base_url, timeout=10) as c:
        yield c


def hit(http: httpx.Client, path: str, method: str = "GET") -> tuple[int, str | None, dict | None]:
    r = http.request(method, path)
    if r.status_code != 200:
        return r.status_code, None, None
    body = r.json()
    return 200, body["function"], body["params"]


def test_constraints_pick_the_first_matching_function_in_registration_order(http: httpx.Client) -> None:
    """int, then alpha, then anything: the first registered route whose constraints hold wins."""
    assert hit(http, "/orders/42") == (200, "order_by_id", {"id": "42"})
    assert hit(http, "/orders/abc") == (200, "order_by_code", {"code": "abc"})
    assert hit(http, "/orders/a-1") == (200, "order_other", {"anything": "a-1"})


def test_method_mismatch_is_404(http: httpx.Client) -> None:
    """DELETE is accepted only by order_other; POST by none of them (404, not 405)."""
    assert hit(http, "/orders/42", "DELETE") == (200, "order_other", {"anything": "42"})
    assert hit(http, "/orders/42", "POST")[0] == 404


def test_catch_all_optional_and_default(http: httpx.Client) -> None:
    """{*path} spans slashes; {page:int?} may be missing; {page=1} defaults."""
    assert hit(http, "/files/a/b/c.txt") == (200, "files", {"path": "a/b/c.txt"})
    assert hit(http, "/files") == (200, "files", {})
    assert hit(http, "/docs") == (200, "docs", {})
    assert hit(http, "/docs/3") == (200, "docs", {"page": "3"})
    assert hit(http, "/docs/three")[0] == 404
    assert hit(http, "/list") == (200, "listing", {"page": "1"})
    assert hit(http, "/list/9") == (200, "listing", {"page": "9"})


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ranged/5", 200), ("/ranged/11", 404), ("/ranged/x", 404),
        ("/guid/0f8fad5b-d9cb-469f-a165-70867728950e", 200), ("/guid/nope", 404),
        ("/codes/ABC", 200), ("/codes/abc", 200), ("/codes/ABCD", 404),
        ("/typed/true/2026-01-31/1.5e3/99999999999", 200), ("/typed/maybe/2026-01-31/1/1", 404),
        ("/typed/false/not-a-date/1/1", 404), ("/typed/true/2026-01-31/x/1", 404),
        ("/sized/ab/5/5", 200), ("/sized/a/5/5", 404), ("/sized/abcd/5/5", 404),
        ("/sized/ab/4/5", 404), ("/sized/ab/5/6", 404),
        ("/archive/report.pdf", 200), ("/archive/report", 404),
    ],
)
def test_constraint_forms(http: httpx.Client, path: str, expected: int) -> None:
    """Each constraint admits what ASP.NET admits; a failed constraint is a 404."""
    assert hit(http, path)[0] == expected


def test_literals_are_case_insensitive_and_methods_upper_cased(http: httpx.Client) -> None:
    """``Mixed/Case`` matches any case; ``methods=["post"]`` means POST."""
    assert hit(http, "/mixed/CASE/x/abc", "POST") == (200, "mixed", {"a": "x", "b": "abc"})
    assert hit(http, "/mixed/case/x/a", "POST")[0] == 404
    assert hit(http, "/mixed/case/x/abc", "GET")[0] == 404


def test_default_route_is_the_function_name(http: httpx.Client) -> None:
    """A function without ``route`` is served at its name (no prefix here)."""
    assert hit(http, "/default_route") == (200, "default_route", {})
    assert hit(http, "/DEFAULT_ROUTE/") == (200, "default_route", {})
    assert hit(http, "/api/default_route")[0] == 404


def test_archive_route_values_round_trip(http: httpx.Client) -> None:
    """Parameters sharing a segment: matched right to left, so the last dot splits (ASP.NET)."""
    expected = (200, "archive", {"name": "report.final", "ext": "pdf"})
    assert hit(http, "/archive/report.final.pdf") == expected


def test_cors_from_local_settings_host_section(http: httpx.Client) -> None:
    """Host.CORS origins get CORS headers and preflight answers; other origins do not."""
    ok = http.get("/orders/1", headers={"Origin": "https://app.example.test"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example.test"
    other = http.get("/orders/1", headers={"Origin": "https://evil.example.test"})
    assert "access-control-allow-origin" not in other.headers
    preflight = http.options("/orders/1", headers={"Origin": "https://other.example.test",
                                                   "Access-Control-Request-Method": "DELETE"})
    assert preflight.status_code == 200
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
