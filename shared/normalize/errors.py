"""Errors of event normalization, each mapped to the HTTP status the ingress answers with.

``NormalizeError.status`` is the HTTP status, ``fields`` the request fields at fault (header names such as
``X-Hub-Signature-256``, body fields such as ``id`` or ``data.amount``), and ``str(error)`` a message safe
to return to the caller (never a secret). The queue ingress sends any of them to the poison queue.
"""

from __future__ import annotations

from shared.case_errors import InputError


class NormalizeError(InputError):
    """Base class: the event could not become a ``BusinessEvent``."""

    status = 400

    def __init__(self, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields or [])

    def to_json(self) -> dict[str, object]:
        """The error response body: ``{"error": message, "fields": [...]}``."""
        return {"error": self.message, "fields": self.fields}


class InvalidEvent(NormalizeError):
    """400: the request is malformed or fields are missing or invalid; ``fields`` names them."""

    status = 400

    def __init__(self, fields: list[str], message: str) -> None:
        super().__init__(message, fields)


class UnsupportedEvent(InvalidEvent):
    """400: a well-formed event of a kind the app does not handle (e.g. a GitHub ``push``, or ``release``
    ``published``); ``fields`` names the header/field that selects it (``X-GitHub-Event``, ``action``)."""


class IgnoredEvent(NormalizeError):
    """200: a valid delivery that opens no case (a GitHub ``ping`` sent when a webhook is created)."""

    status = 200


class Unauthorized(NormalizeError):
    """401: a missing or wrong signature (``X-Hub-Signature-256``), or no webhook secret configured."""

    status = 401


class PayloadTooLarge(NormalizeError):
    """413: the body is larger than ``CASE_MAX_EVENT_BYTES``."""

    status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"event body of {size} bytes exceeds the limit of {limit} bytes", ["body"])
        self.size = size
        self.limit = limit


class UnsupportedMediaType(NormalizeError):
    """415: the Content-Type is none of the accepted ones (see ``shared.normalize``)."""

    status = 415

    def __init__(self, content_type: str | None) -> None:
        super().__init__(
            f"unsupported Content-Type {content_type or '(none)'}: send application/json (plain event or "
            "GitHub webhook), application/cloudevents+json, or a binary CloudEvent (ce-* headers) with "
            "JSON data",
            ["Content-Type"],
        )
        self.content_type = content_type
