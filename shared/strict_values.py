"""Strict reading of the values governance depends on: decimal amounts and bounded, standard JSON.

Amounts (:func:`read_decimal`): a JSON number (not a boolean), finite, or a string holding a plain decimal
(``-12``, ``1200.50``; no thousands separators, currency, exponent, ``NaN`` or ``Infinity``), at most
:data:`MAX_NUMBER_CHARS` characters. Anything else is :class:`UnreadableValue`: policy conditions then take
the stricter branch and the ingress answers 400 naming the field.

JSON (:func:`loads`): the standard library parser with limits: nesting deeper than :data:`MAX_JSON_DEPTH`,
numbers longer than :data:`MAX_NUMBER_CHARS` characters, and the non-standard constants ``NaN``,
``Infinity`` and ``-Infinity`` raise :class:`HostileJson` (a ``ValueError``) before anything is stored,
so persisted JSON is always standard JSON (RFC 8259) and parsing never hits ``RecursionError``.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.case_errors import InputError

#: Deepest JSON nesting accepted (objects and arrays).
MAX_JSON_DEPTH = 64
#: Longest number literal accepted, in characters.
MAX_NUMBER_CHARS = 64

_DECIMAL_TEXT = re.compile(r"^[+-]?(?:\d+)(?:\.\d+)?$")


class UnreadableValue(InputError, ValueError):
    """A value a policy condition reads could not be read strictly (message says why)."""


class HostileJson(InputError, ValueError):
    """JSON text beyond the limits (too deep, an oversized number, NaN/Infinity); the message says which."""


def read_decimal(value: Any) -> Decimal:
    """``value`` as a finite :class:`~decimal.Decimal` (see the module docstring); raises
    :class:`UnreadableValue` otherwise (``None`` included: the caller decides what "missing" means)."""
    if value is None:
        raise UnreadableValue("no value")
    if isinstance(value, bool):
        raise UnreadableValue("a boolean is not an amount")
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_NUMBER_CHARS:
            raise UnreadableValue(f"more than {MAX_NUMBER_CHARS} digits")
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnreadableValue("not a finite number")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnreadableValue("not a finite number")
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS or not _DECIMAL_TEXT.match(text):
            raise UnreadableValue(f"{value[:40]!r} is not a plain decimal number")
        try:
            return Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
            raise UnreadableValue(f"{value[:40]!r} is not a decimal number") from exc
    raise UnreadableValue(f"a {type(value).__name__} is not an amount")


def _depth_ok(text: str) -> bool:
    """True when brackets outside strings never nest deeper than :data:`MAX_JSON_DEPTH`."""
    # devhost/limits.py keeps the same scan for the host (devhost never imports the app, nor the reverse).
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _constant(name: str) -> Any:
    raise HostileJson(f"{name} is not standard JSON")


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise HostileJson(f"a number of {len(text)} characters exceeds the limit of {MAX_NUMBER_CHARS}")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise HostileJson(f"a number of {len(text)} characters exceeds the limit of {MAX_NUMBER_CHARS}")
    value = float(text)
    if not math.isfinite(value):
        raise HostileJson(f"the number {text[:20]} overflows a double")
    return value


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads`` with the limits of the module docstring. Raises :class:`HostileJson` for a limit,
    ``ValueError`` (``json.JSONDecodeError`` / ``UnicodeDecodeError``) for text that is not JSON."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if not _depth_ok(text):
        raise HostileJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_constant, parse_int=_int, parse_float=_float)
    except RecursionError as exc:  # pragma: no cover - the depth check runs first
        raise HostileJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
