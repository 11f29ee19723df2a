"""Plain JSON business events → BusinessEvent.

Body (``Content-Type: application/json``)::

    {"id": "pay-1001", "type": "payment.release", "subject": "invoice-77", "requester": "alice",
     "time": "2026-11-25T10:00:00Z", "source": "erp", "data": {"amount": 1200, "currency": "EUR"},
     "attributes": {"region": "eu"}}

Required: ``id``, ``type`` (dotted lower-case), ``requester``. Optional: ``subject``, ``time`` (ISO 8601;
receipt time when absent), ``source`` (default ``plain``), ``data`` (JSON object), ``attributes`` (JSON
scalars). Unknown top-level keys are refused (400 naming them) so a typo never passes silently.
``attributes`` of the result are the top-level scalars of ``data`` overlaid with the explicit ``attributes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shared.contracts.event import BusinessEvent
from shared.normalize.common import build_event, parse_time, scalar_attributes, utcnow
from shared.normalize.errors import InvalidEvent

DEFAULT_SOURCE = "plain"
ALLOWED_KEYS = frozenset({"id", "type", "subject", "requester", "time", "source", "data", "attributes"})
_NAMES = {"event_id": "id", "occurred_at": "time"}


def normalize(
    document: dict[str, Any], channel: Literal["http", "queue"], received_at: datetime | None = None
) -> BusinessEvent:
    """Map a parsed plain event onto a :class:`BusinessEvent`. Raises :class:`InvalidEvent` naming fields."""
    unknown = sorted(set(document) - ALLOWED_KEYS)
    if unknown:
        raise InvalidEvent(
            unknown,
            "unknown field(s) " + ", ".join(unknown) + "; allowed: " + ", ".join(sorted(ALLOWED_KEYS)),
        )
    data = document.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidEvent(["data"], "data must be a JSON object")
    explicit = document.get("attributes", {}) or {}
    if not isinstance(explicit, dict):
        raise InvalidEvent(["attributes"], "attributes must be a JSON object of scalars")
    attributes = scalar_attributes(data)
    attributes.update(explicit)
    occurred_at = parse_time(document["time"], "time") if document.get("time") is not None else None
    return build_event(
        {
            "event_id": document.get("id"),
            "source": document.get("source") or DEFAULT_SOURCE,
            "type": document.get("type"),
            "subject": document.get("subject"),
            "requester": document.get("requester"),
            "occurred_at": occurred_at or received_at or utcnow(),
            "format": "plain",
            "channel": channel,
            "attributes": attributes,
            "data": data,
        },
        _NAMES,
    )
