"""Route templates and constraints, matched as the Functions host (ASP.NET Core routing) matches them."""

import pytest

from devhost.http.routing import Router, RouteTemplateError, compile_template, full_template


def match(template: str, path: str) -> dict[str, str] | None:
    return compile_template(template).match(path)


def test_literal_segments_match_case_insensitively() -> None:
    """Literal text ignores case; a trailing slash is tolerated."""
    assert match("api/Items/list", "/API/items/LIST") == {}
    assert match("api/items/list", "/api/items/list/") == {}
    assert match("api/items/list", "/api/items") is None
    assert match("api/items/list", "/api/items/list/more") is None


def test_parameter_takes_one_segment() -> None:
    """``{name}`` captures exactly one segment, keeping its case."""
    assert match("api/hello/{name}", "/api/hello/Bob") == {"name": "Bob"}
    assert match("api/hello/{name}", "/api/hello") is None
    assert match("api/hello/{name}", "/api/hello/a/b") is None


def test_optional_parameter_is_absent_when_missing() -> None:
    """``{id?}`` may be missing; then it is absent from the route values."""
    assert match("api/items/{id?}", "/api/items") == {}
    assert match("api/items/{id?}", "/api/items/7") == {"id": "7"}


def test_default_value_fills_a_missing_parameter() -> None:
    """``{page=1}`` supplies its default."""
    assert match("api/list/{page=1}", "/api/list") == {"page": "1"}
    assert match("api/list/{page=1}", "/api/list/3") == {"page": "3"}


def test_catch_all_takes_the_rest_of_the_path() -> None:
    """``{*rest}`` and ``{**rest}`` capture slashes, and may be empty."""
    assert match("api/files/{*path}", "/api/files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert match("api/files/{**path}", "/api/files/x") == {"path": "x"}
    assert match("api/files/{*path}", "/api/files") == {}


def test_complex_segment_with_two_parameters() -> None:
    """Several parameters can share a segment around literal text."""
    assert match("api/{file}.{ext}", "/api/report.pdf") == {"file": "report", "ext": "pdf"}


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ("int", ["42", "-7"], ["4.2", "abc", "99999999999"]),
        ("long", ["99999999999", "-1"], ["1e3", "x"]),
        ("bool", ["true", "FALSE"], ["yes", "1"]),
        ("datetime", ["2026-01-31", "2026-01-31T10:00:00"], ["yesterday", "2026-13-01"]),
        ("decimal", ["1.5", "-2"], ["1e5", "abc"]),
        ("double", ["1.5", "1e5"], ["abc", "1.2.3"]),
        ("float", ["-0.5"], ["nan-ish"]),
        ("guid", ["0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5bd9cb469fa16570867728950e"], ["1234"]),
        ("alpha", ["abcXYZ"], ["abc1", "a-b"]),
        ("minlength(3)", ["abc", "abcd"], ["ab"]),
        ("maxlength(3)", ["a", "abc"], ["abcd"]),
        ("length(2)", ["ab"], ["a", "abc"]),
        ("length(2,3)", ["ab", "abc"], ["a", "abcd"]),
        ("min(10)", ["10", "99"], ["9", "x"]),
        ("max(10)", ["10", "-5"], ["11"]),
        ("range(1,5)", ["1", "5"], ["0", "6", "three"]),
        (r"regex(^[a-z]{{2}}\d+$)", ["ab12", "AB3"], ["a12", "abc"]),
    ],
)
def test_constraints(constraint: str, good: list[str], bad: list[str]) -> None:
    """A value failing its constraint is no match (a 404), never an error."""
    template = compile_template(f"api/x/{{v:{constraint}}}")
    for value in good:
        assert template.match(f"/api/x/{value}") == {"v": value}, value
    for value in bad:
        assert template.match(f"/api/x/{value}") is None, value


def test_several_constraints_and_optional_combine() -> None:
    """``{id:int:min(1)?}``: optional, and when present an int ≥ 1."""
    template = compile_template("api/c/{id:int:min(1)?}")
    assert template.match("/api/c") == {}
    assert template.match("/api/c/3") == {"id": "3"}
    assert template.match("/api/c/0") is None


def test_unknown_constraint_is_rejected() -> None:
    """The host cannot resolve an unknown constraint name."""
    with pytest.raises(RouteTemplateError, match="could not be resolved"):
        compile_template("api/{id:banana}")


def test_consecutive_separators_are_rejected() -> None:
    """``api//{*route}`` (an AsgiFunctionApp route under a prefix) is an invalid template."""
    with pytest.raises(RouteTemplateError, match="consecutively"):
        compile_template(full_template("api", "/{*route}"))


def test_full_template_joins_prefix_and_route() -> None:
    """An empty prefix leaves the route alone."""
    assert full_template("api", "x/{id}") == "api/x/{id}"
    assert full_template("", "x/{id}") == "x/{id}"


def test_router_tries_routes_in_registration_order_and_checks_methods() -> None:
    """First registered match wins; a method the function does not accept is no match."""
    router = Router()
    router.add("api/items/{id}", ["GET"], "by_id")
    router.add("api/items/new", ["GET", "POST"], "new")
    assert router.match("GET", "/api/items/new") == ("by_id", {"id": "new"})
    assert router.match("POST", "/api/items/new") == ("new", {})
    assert router.match("DELETE", "/api/items/new") is None
