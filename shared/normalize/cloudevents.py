"""CloudEvents 1.0 → BusinessEvent, parsed with the official ``cloudevents`` SDK (2.x ``cloudevents.core``).

Both HTTP content modes (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md):

- structured: ``Content-Type: application/cloudevents+json``, the whole event in the body
  (``cloudevents.core.bindings.http.from_structured``);
- binary: attributes in ``ce-*`` headers, the data in the body with its own JSON Content-Type
  (``cloudevents.core.bindings.http.from_binary``).

Mapping: ``id`` → event_id, ``source``, ``type`` (must be dotted lower-case, e.g. ``payment.release``),
``subject``, ``time`` → occurred_at (receipt time when absent), requester from the extension attribute
``requester`` (else ``data.requester``). ``data`` must be a JSON object (or absent); ``attributes`` are the
extension attributes (other than ``requester``) plus the top-level scalars of ``data``. Batch mode
(``application/cloudevents-batch+json``) is not accepted (415).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote

from cloudevents.core.bindings.http import HTTPMessage, from_binary, from_structured
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared.contracts.event import BusinessEvent
from shared.normalize.common import build_event, parse_json_object, parse_time, scalar_attributes, utcnow
from shared.normalize.errors import InvalidEvent, UnsupportedMediaType

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
_CORE = {"id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema"}
_NAMES = {"event_id": "id", "occurred_at": "time", "requester": "requester", "data": "data"}


def is_binary(headers: dict[str, str]) -> bool:
    """True when the (lower-cased) headers carry CloudEvents binary-mode attributes (``ce-*``)."""
    return any(name.startswith("ce-") for name in headers)


def _from_sdk(call: Any, *args: Any) -> CloudEvent:
    try:
        event = call(*args)
    except CloudEventValidationError as exc:
        raise InvalidEvent(sorted(exc.errors), f"invalid CloudEvent: {exc}") from exc
    except BaseCloudEventException as exc:
        raise InvalidEvent([getattr(exc, "attribute_name", "body")], f"invalid CloudEvent: {exc}") from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise InvalidEvent(["body"], f"invalid CloudEvent: {exc}") from exc
    if not isinstance(event, CloudEvent):  # v0.3 or unknown spec versions
        raise InvalidEvent(["specversion"], "only CloudEvents specversion 1.0 is accepted")
    return event


def _require(present: dict[str, object], prefix: str) -> None:
    """Refuse a missing or empty id/source/type: the SDK's CloudEvent constructor would invent an ``id``
    (uuid4) for an event without one, and a made-up id breaks redelivery detection."""
    missing = [prefix + name for name in ("id", "source", "type") if not present.get(prefix + name)]
    if missing:
        raise InvalidEvent(missing, "missing required CloudEvents attribute(s): " + ", ".join(missing))


def parse_structured(body: bytes) -> CloudEvent:
    """Parse a structured-mode body (JSON object with ``specversion`` 1.0). Raises :class:`InvalidEvent`."""
    document = parse_json_object(body)
    if document.get("specversion") != "1.0":
        raise InvalidEvent(["specversion"], "specversion must be '1.0'")
    _require(document, "")
    if "time" in document:
        parse_time(document["time"], "time")  # a precise 400 naming time; the SDK parses it again
    if "data_base64" in document:
        raise InvalidEvent(["data_base64"], "data must be a JSON object, not base64 bytes")
    return _from_sdk(from_structured, HTTPMessage(headers={}, body=body), JSONFormat(), CloudEvent)


def parse_binary(headers: dict[str, str], body: bytes, content_type: str | None) -> CloudEvent:
    """Parse a binary-mode request (lower-cased headers). Raises :class:`InvalidEvent`, or
    :class:`UnsupportedMediaType` when a non-empty body has a non-JSON Content-Type (none means JSON, as the
    SDK's ``to_binary`` omits it when the event has no ``datacontenttype``)."""
    if headers.get("ce-specversion") != "1.0":
        raise InvalidEvent(["ce-specversion"], "ce-specversion must be '1.0'")
    _require(dict(headers), "ce-")
    if "ce-time" in headers:
        parse_time(unquote(headers["ce-time"]), "ce-time")
    json_type = content_type is None or JSONFormat.JSON_CONTENT_TYPE_PATTERN.match(content_type)
    if body.strip() and not json_type:
        raise UnsupportedMediaType(content_type)
    if body.strip():
        parse_json_object(body, "data")  # precise error before the SDK falls back to text
    return _from_sdk(from_binary, HTTPMessage(headers=headers, body=body), JSONFormat(), CloudEvent)


def to_business_event(
    event: CloudEvent,
    channel: Literal["http", "queue"],
    received_at: datetime | None = None,
    *,
    has_time: bool = True,
) -> BusinessEvent:
    """Map a parsed CloudEvent onto a :class:`BusinessEvent`. Raises :class:`InvalidEvent` naming fields.

    ``has_time`` False means the sender sent no ``time`` (the SDK then stamps its own clock); the event's
    ``occurred_at`` is ``received_at`` (default now) instead."""
    data = event.get_data()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidEvent(["data"], "data must be a JSON object")
    attributes = event.get_attributes()
    extensions = {k: v for k, v in attributes.items() if k not in _CORE and k != "requester"}
    requester = attributes.get("requester") or data.get("requester")
    routing = scalar_attributes(data)
    routing.update(scalar_attributes(extensions))
    return build_event(
        {
            "event_id": event.get_id(),
            "source": event.get_source(),
            "type": event.get_type(),
            "subject": event.get_subject(),
            "requester": requester,
            "occurred_at": event.get_time() if has_time else (received_at or utcnow()),
            "format": "cloudevents",
            "channel": channel,
            "attributes": routing,
            "data": data,
        },
        _NAMES,
    )
