"""Inbound event normalization: HTTP requests and queue messages → one :class:`BusinessEvent`.

HTTP (``normalize_http``), chosen in this order:

1. ``X-GitHub-Event`` header → GitHub webhook (signature verified; ``shared/normalize/github.py``);
2. any ``ce-*`` header → CloudEvents binary mode (``cloudevents.py``);
3. ``Content-Type: application/cloudevents+json`` → CloudEvents structured mode;
4. ``Content-Type: application/json`` → a JSON object with ``specversion`` is a structured CloudEvent,
   anything else a plain business event (``plain.py``);
5. anything else → 415 (``application/cloudevents-batch+json`` included).

The body size is checked first (``Content-Length`` and the actual length against ``CASE_MAX_EVENT_BYTES``),
before any parsing.

Queue messages (``normalize_queue_message``; the text after the host's base64 decoding) are JSON:

- a structured CloudEvent (an object with ``specversion``);
- a plain business event (as over HTTP);
- an HTTP envelope ``{"headers": {...}, "body": ...}`` that replays an HTTP delivery through the same rules:
  this is how GitHub webhooks and binary CloudEvents travel by queue. For GitHub the ``body`` must be the raw
  payload text exactly as delivered (a JSON string), because ``X-Hub-Signature-256`` is checked over those
  bytes just as over HTTP: a relay copies headers and body verbatim, and only the holder of the webhook
  secret can produce a message that opens a case. A ``body`` given as a JSON object is re-serialized, which
  is fine for CloudEvents but refused for GitHub (the signature could not match). A missing Content-Type in
  an envelope means ``application/json``.

All failures are :class:`shared.normalize.errors.NormalizeError` subclasses carrying the HTTP status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from shared.contracts.event import BusinessEvent
from shared.normalize import cloudevents, github, plain
from shared.normalize.common import lower_headers, media_type, parse_json_object
from shared.normalize.errors import (
    IgnoredEvent,
    InvalidEvent,
    NormalizeError,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedEvent,
    UnsupportedMediaType,
)
from shared.settings import AppSettings

Channel = Literal["http", "queue"]


def check_size(headers: Mapping[str, str], body_length: int, settings: AppSettings) -> None:
    """Raise :class:`PayloadTooLarge` when ``Content-Length`` or the body exceeds ``max_event_bytes``.

    ``headers`` lower-cased; a non-numeric Content-Length is ignored (the actual length still counts).
    """
    declared = headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > settings.max_event_bytes:
        raise PayloadTooLarge(int(declared), settings.max_event_bytes)
    if body_length > settings.max_event_bytes:
        raise PayloadTooLarge(body_length, settings.max_event_bytes)


def _normalize(
    headers: dict[str, str],
    body: bytes,
    settings: AppSettings,
    channel: Channel,
    received_at: datetime | None,
) -> BusinessEvent:
    content_type = media_type(headers)
    if github.is_github(headers):
        return github.normalize(headers, body, content_type, settings, channel, received_at)
    if cloudevents.is_binary(headers):
        event = cloudevents.parse_binary(headers, body, headers.get("content-type"))
        return cloudevents.to_business_event(event, channel, received_at, has_time="ce-time" in headers)
    if content_type == cloudevents.STRUCTURED_CONTENT_TYPE:
        return _structured(body, channel, received_at)
    if content_type == "application/json":
        return _json_document(body, channel, received_at)
    raise UnsupportedMediaType(headers.get("content-type"))


def _json_document(body: bytes, channel: Channel, received_at: datetime | None) -> BusinessEvent:
    document = parse_json_object(body)
    if "specversion" in document:
        return _structured(body, channel, received_at)
    return plain.normalize(document, channel, received_at)


def _structured(body: bytes, channel: Channel, received_at: datetime | None) -> BusinessEvent:
    event = cloudevents.parse_structured(body)
    has_time = "time" in parse_json_object(body)
    return cloudevents.to_business_event(event, channel, received_at, has_time=has_time)


def normalize_http(
    headers: Mapping[str, str], body: bytes, settings: AppSettings, *, received_at: datetime | None = None
) -> BusinessEvent:
    """Normalize one HTTP request (any header case, raw body bytes) into a ``channel="http"`` event.

    ``received_at`` (UTC) stands in for events without a timestamp; default now. Raises
    :class:`PayloadTooLarge` (413), :class:`UnsupportedMediaType` (415), :class:`Unauthorized` (401),
    :class:`InvalidEvent` / :class:`UnsupportedEvent` (400), :class:`IgnoredEvent` (GitHub ping, 200).
    """
    lowered = lower_headers(headers)
    check_size(lowered, len(body), settings)
    return _normalize(lowered, body, settings, "http", received_at)


def normalize_queue_message(
    body: str | bytes, settings: AppSettings, *, received_at: datetime | None = None
) -> BusinessEvent:
    """Normalize one queue message (decoded text or bytes) into a ``channel="queue"`` event.

    Raises the same errors as :func:`normalize_http`; an envelope's errors name the inner fields
    (``headers``, ``body``) or the replayed HTTP fields.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    check_size({}, len(raw), settings)
    document = parse_json_object(raw, "message")
    if "headers" in document and set(document) <= {"headers", "body"}:
        return _envelope(document, settings, received_at)
    return _json_document(raw, "queue", received_at)


def _envelope(
    document: dict[str, object], settings: AppSettings, received_at: datetime | None
) -> BusinessEvent:
    headers = document["headers"]
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidEvent(["headers"], "envelope headers must be an object of strings")
    lowered = lower_headers(headers)
    lowered.setdefault("content-type", "application/json")
    inner = document.get("body")
    if isinstance(inner, str):
        payload = inner.encode("utf-8")
    elif inner is None:
        payload = b""
    elif github.is_github(lowered):
        raise InvalidEvent(
            ["body"],
            "a GitHub envelope's body must be the raw payload text (a JSON string) "
            "so that X-Hub-Signature-256 can be verified",
        )
    else:
        payload = json.dumps(inner).encode("utf-8")
    return _normalize(lowered, payload, settings, "queue", received_at)


__all__ = [
    "IgnoredEvent",
    "InvalidEvent",
    "NormalizeError",
    "PayloadTooLarge",
    "Unauthorized",
    "UnsupportedEvent",
    "UnsupportedMediaType",
    "check_size",
    "normalize_http",
    "normalize_queue_message",
]
