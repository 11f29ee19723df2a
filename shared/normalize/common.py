"""Helpers shared by the format normalizers: header lookup, JSON parsing, model building with field errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shared import strict_values
from shared.contracts.event import AttributeValue, BusinessEvent
from shared.normalize.errors import InvalidEvent
from shared.strict_values import UnreadableValue, read_decimal

#: Attribute values longer than this are left out of ``attributes`` (they stay in ``data``).
MAX_ATTRIBUTE_CHARS = 512


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with lower-cased names (HTTP header names are case-insensitive)."""
    return {str(k).lower(): str(v) for k, v in headers.items()}


def media_type(headers: Mapping[str, str]) -> str | None:
    """The Content-Type without parameters, lower-cased, or None (``headers`` already lower-cased)."""
    raw = headers.get("content-type")
    if raw is None or not raw.strip():
        return None
    return raw.split(";", 1)[0].strip().lower()


def parse_json_object(body: bytes | str, what: str = "body") -> dict[str, Any]:
    """Parse ``body`` as a JSON object with the limits of ``shared.strict_values.loads`` (nesting, number
    size, no NaN/Infinity); raises :class:`InvalidEvent` naming ``what`` otherwise."""
    try:
        document = strict_values.loads(body)
    except strict_values.HostileJson as exc:
        raise InvalidEvent([what], f"{what} is refused: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent([what], f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidEvent([what], f"{what} must be a JSON object")
    return document


def scalar_attributes(data: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The top-level JSON scalars of ``data`` (strings up to 512 characters) as routing attributes."""
    result: dict[str, AttributeValue] = {}
    for key, value in data.items():
        short_text = isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_CHARS
        if isinstance(value, bool | int | float) or value is None or short_text:
            result[str(key)] = value
    return result


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` allowed) as UTC; raises :class:`InvalidEvent` naming ``field``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent([field], f"{field} is not an ISO 8601 timestamp") from exc
    else:
        raise InvalidEvent([field], f"{field} must be an ISO 8601 timestamp string")
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidEvent([field], f"{field} is outside the representable UTC range") from exc


def utcnow() -> datetime:
    """Current UTC time (the receipt time of an event that carries none)."""
    return datetime.now(UTC)


#: Attributes that policy conditions compare as numbers: read strictly at ingress (one source of truth).
NUMERIC_ATTRIBUTES = ("amount",)


def check_numeric_attributes(fields: dict[str, Any]) -> None:
    """Refuse (400) an event whose numeric facts (:data:`NUMERIC_ATTRIBUTES`) are unreadable or disagree.

    For each name: ``data.<name>`` and ``attributes.<name>`` must each be a strict decimal
    (``shared.strict_values.read_decimal``) when present, and equal when both are present.
    """
    sources: list[tuple[str, dict[str, Any]]] = [
        (where, fields[where]) for where in ("data", "attributes") if isinstance(fields.get(where), dict)
    ]
    for name in NUMERIC_ATTRIBUTES:
        values: dict[str, Decimal] = {}
        for where, source in sources:
            if name not in source or source[name] is None:
                continue
            try:
                values[f"{where}.{name}"] = read_decimal(source[name])
            except UnreadableValue as exc:
                raise InvalidEvent(
                    [f"{where}.{name}"], f"{where}.{name} must be a plain decimal number: {exc}"
                ) from exc
        if len(set(values.values())) > 1:
            raise InvalidEvent(
                sorted(values), f"{' and '.join(sorted(values))} disagree: send the {name} once"
            )


def build_event(fields: dict[str, Any], names: Mapping[str, str]) -> BusinessEvent:
    """Validate ``fields`` into a :class:`BusinessEvent`; a validation error becomes :class:`InvalidEvent`
    whose ``fields`` are the sender's names for the bad fields (``names`` maps model field → input name).
    Numeric facts are checked first (:func:`check_numeric_attributes`)."""
    check_numeric_attributes(fields)
    try:
        return BusinessEvent(**fields)
    except ValidationError as exc:
        bad: list[str] = []
        details: list[str] = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            name = names.get(loc[0], loc[0]) if loc else "body"
            if len(loc) > 1:
                name = ".".join([name, *loc[1:]])
            if name not in bad:
                bad.append(name)
            details.append(f"{name}: {error['msg']}")
        raise InvalidEvent(bad, "invalid event: " + "; ".join(details)) from exc
