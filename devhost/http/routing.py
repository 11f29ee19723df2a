"""HTTP trigger route templates, matched the way the Functions host matches them.

The host builds ``routePrefix + "/" + route`` (just ``route`` when the prefix is empty) and matches it with
ASP.NET Core route templates (webjobs-sdk-extensions ``WebJobsRouteBuilder`` / ``WebJobsRouter``;
https://learn.microsoft.com/aspnet/core/fundamentals/routing#route-templates):

* literal text matches case-insensitively; a trailing ``/`` on the request path is tolerated;
* ``{name}`` one segment; ``{name?}`` optional; ``{name=default}``; ``{*rest}`` / ``{**rest}`` catch-all
  (the rest of the path, slashes included, possibly empty); several parameters may share a segment
  (``{file}.{ext}``);
* inline constraints ``{id:int}``, ``{d:datetime}``, ``{n:range(1,10)}``, ``{s:regex(^a\\d+$)}`` ...
  (a failing constraint is no match, never 400);
* routes are tried in registration order, the first match wins; a method the function does not accept
  is no match (404, not 405) — docs/host-behaviour.md#http-triggers.

Pure: no I/O. :func:`compile_template` raises ``RouteTemplateError`` for a template the host rejects.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.errors import ConfigError


class RouteTemplateError(ConfigError, ValueError):
    """The route template is malformed or names an unknown constraint."""


_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_DEC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$")
_DBL = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y/%m/%d", "%d %B %Y", "%B %d, %Y")


def _int_in(bits: int) -> Callable[[str], bool]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lambda v: bool(_INT.match(v)) and lo <= int(v) <= hi


def _is_guid(v: str) -> bool:
    try:
        uuid.UUID(v.strip())
        return True
    except ValueError:
        return False


def _is_datetime(v: str) -> bool:
    text = v.strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


def _as_long(v: str) -> int | None:
    return int(v) if _int_in(64)(v) else None


def _constraint(name: str, args: list[str]) -> Callable[[str], bool]:
    """Build the check of one inline constraint; RouteTemplateError when unknown or malformed."""
    simple: dict[str, Callable[[str], bool]] = {
        "int": _int_in(32),
        "long": _int_in(64),
        "bool": lambda v: v.strip().lower() in ("true", "false"),
        "datetime": _is_datetime,
        "decimal": lambda v: bool(_DEC.match(v)),
        "double": lambda v: bool(_DBL.match(v)),
        "float": lambda v: bool(_DBL.match(v)),
        "guid": _is_guid,
        "alpha": lambda v: bool(re.fullmatch(r"[a-zA-Z]*", v)),
        "required": lambda v: v != "",
    }
    key = name.lower()
    try:
        if key in simple and not args:
            return simple[key]
        if key == "regex" and len(args) == 1:
            pattern = re.compile(args[0], re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        nums = [int(a.strip()) for a in args]
    except (ValueError, re.error) as exc:
        raise RouteTemplateError(f"constraint {name}({','.join(args)}) is malformed: {exc}") from exc
    checks: dict[tuple[str, int], Callable[[str], bool]] = {
        ("minlength", 1): lambda v: len(v) >= nums[0],
        ("maxlength", 1): lambda v: len(v) <= nums[0],
        ("length", 1): lambda v: len(v) == nums[0],
        ("length", 2): lambda v: nums[0] <= len(v) <= nums[1],
        ("min", 1): lambda v: (n := _as_long(v)) is not None and n >= nums[0],
        ("max", 1): lambda v: (n := _as_long(v)) is not None and n <= nums[0],
        ("range", 2): lambda v: (n := _as_long(v)) is not None and nums[0] <= n <= nums[1],
    }
    if (key, len(nums)) not in checks:
        raise RouteTemplateError(f"the constraint {name!r} could not be resolved")
    return checks[(key, len(nums))]


@dataclass
class Parameter:
    """One ``{...}`` of a template: name, constraints, optional / default / catch-all."""

    name: str
    checks: list[Callable[[str], bool]] = field(default_factory=list)
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        """Whether ``value`` passes every constraint of the parameter (``int``, ``alpha``, ``regex(...)``
        ...)."""
        return all(check(value) for check in self.checks)


def _parse_parameter(token: str) -> Parameter:
    """``*rest``, ``id:int:min(1)``, ``x?``, ``x=5``, ``s:regex(^a{{2}}$)`` → Parameter."""
    catch_all = token.startswith("*")
    token = token.lstrip("*")
    m = re.match(r"[^:?=]+", token)
    if not m:
        raise RouteTemplateError(f"parameter {{{token}}} has no name")
    name, rest = m.group(0).strip(), token[m.end():]
    param = Parameter(name, catch_all=catch_all)
    while rest.startswith(":"):
        cm = re.match(r":([A-Za-z]+)", rest)
        if not cm:
            raise RouteTemplateError(f"parameter {{{token}}}: bad constraint syntax")
        cname, rest = cm.group(1), rest[cm.end():]
        args: list[str] = []
        if rest.startswith("("):
            depth, end = 0, 0
            for end, ch in enumerate(rest):  # noqa: B007 - end is used after the loop
                depth += (ch == "(") - (ch == ")")
                if depth == 0:
                    break
            if depth:
                raise RouteTemplateError(f"parameter {{{token}}}: unbalanced parentheses")
            inner, rest = rest[1:end], rest[end + 1:]
            args = [inner] if cname.lower() == "regex" else inner.split(",")
        param.checks.append(_constraint(cname, args))
    if rest == "?":
        param.optional = True
    elif rest.startswith("="):
        param.default, param.optional = rest[1:], True
    elif rest:
        raise RouteTemplateError(f"parameter {{{token}}}: unexpected {rest!r}")
    return param


def _split_segment(segment: str) -> list[str | Parameter]:
    """A segment's parts: literal strings (``{{``/``}}`` unescaped) and parameters."""
    parts: list[str | Parameter] = []
    literal, i = "", 0
    while i < len(segment):
        ch = segment[i]
        if segment.startswith("{{", i) or segment.startswith("}}", i):
            literal, i = literal + ch, i + 2
        elif ch == "{":
            j, token = i + 1, ""
            while j < len(segment) and not (segment[j] == "}" and not segment.startswith("}}", j)):
                step = 2 if segment.startswith(("{{", "}}"), j) else 1
                token, j = token + segment[j], j + step
            if j >= len(segment):
                raise RouteTemplateError(f"segment {segment!r}: missing '}}'")
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(_parse_parameter(token))
            i = j + 1
        elif ch == "}":
            raise RouteTemplateError(f"segment {segment!r}: unmatched '}}'")
        else:
            literal, i = literal + ch, i + 1
    if literal:
        parts.append(literal)
    return parts


@dataclass
class RouteTemplate:
    """A compiled template: ``match(path)`` → route values (str → str) or None."""

    text: str
    regex: re.Pattern[str]
    parameters: list[Parameter]

    def match(self, path: str) -> dict[str, str] | None:
        """Match a decoded request path (leading ``/`` optional, one trailing ``/`` tolerated)."""
        path = path.strip("/") if path.endswith("/") and path.strip("/") else path.lstrip("/")
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        values: dict[str, str] = {}
        for i, p in enumerate(self.parameters):
            value = m.group(f"p{i}")
            if value is None or (value == "" and p.catch_all):
                if p.default is not None:
                    values[p.name] = p.default
                continue
            if not p.accepts(value):
                return None
            values[p.name] = value
        return values


def compile_template(text: str) -> RouteTemplate:
    """Compile an ASP.NET-style route template (``api/items/{id:int?}``). Raises RouteTemplateError."""
    body = text[1:] if text.startswith("/") else text
    params: list[Parameter] = []
    pattern = ""
    segments = body.split("/") if body else []
    for index, segment in enumerate(segments):
        if segment == "":
            raise RouteTemplateError(
                f"route template {text!r}: the separator '/' cannot appear consecutively"
            )
        parts = _split_segment(segment)
        sep = "/" if index else ""
        single = len(parts) == 1 and isinstance(parts[0], Parameter)
        if single:
            p = parts[0]
            assert isinstance(p, Parameter)
            group = f"(?P<p{len(params)}>.*)" if p.catch_all else f"(?P<p{len(params)}>[^/]+)"
            if p.catch_all and index != len(segments) - 1:
                raise RouteTemplateError(f"route template {text!r}: a catch-all must be the last segment")
            params.append(p)
            pattern += f"(?:{sep}{group})?" if p.optional or p.catch_all else sep + group
            continue
        piece = ""
        for part in parts:
            if isinstance(part, Parameter):
                if part.catch_all:
                    raise RouteTemplateError(
                        f"route template {text!r}: a catch-all must be alone in its segment"
                    )
                piece += f"(?P<p{len(params)}>[^/]+)" + ("?" if part.optional else "")
                params.append(part)
            else:
                piece += re.escape(part)
        pattern += sep + piece
    names = [p.name.lower() for p in params]
    if len(set(names)) != len(names):
        raise RouteTemplateError(f"route template {text!r}: a parameter name appears twice")
    return RouteTemplate(text, re.compile(pattern, re.IGNORECASE | re.DOTALL), params)


def full_template(prefix: str, route: str) -> str:
    """``prefix + "/" + route`` as the host joins them (route alone when the prefix is empty)."""
    return f"{prefix}/{route}" if prefix else route


@dataclass
class RouteEntry:
    """One routed function: its template, accepted methods (upper-case) and an opaque target."""

    template: RouteTemplate
    methods: frozenset[str]
    target: Any


class Router:
    """Routes in registration order; :meth:`match` returns the first entry accepting method and path."""

    def __init__(self, entries: Sequence[RouteEntry] = ()) -> None:
        self.entries = list(entries)

    def add(self, template: str, methods: Sequence[str], target: Any) -> RouteEntry:
        """Compile and append a route (RouteTemplateError when the template is invalid)."""
        entry = RouteEntry(compile_template(template), frozenset(m.upper() for m in methods), target)
        self.entries.append(entry)
        return entry

    def match(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
        """``(target, route values)`` of the first match, or None (→ 404)."""
        for entry in self.entries:
            if method.upper() not in entry.methods:
                continue
            values = entry.template.match(path)
            if values is not None:
                return entry.target, values
        return None
