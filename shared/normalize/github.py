"""GitHub webhook deliveries → BusinessEvent, after verifying ``X-Hub-Signature-256``.

Headers (https://docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers): ``X-GitHub-Event``
(the event name), ``X-GitHub-Delivery`` (a GUID, kept on redelivery: the event id), ``X-Hub-Signature-256``
(``sha256=`` + hex HMAC-SHA256 of the raw body with the webhook secret, compared in constant time with
``hmac.compare_digest`` as https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
shows). The signature is checked before the body is parsed; without ``GITHUB_WEBHOOK_SECRET`` every delivery
is refused. Both webhook content types are accepted: ``application/json`` and
``application/x-www-form-urlencoded`` (``payload=<json>``).

Supported events (type ``github.<event>.<action>``; anything else is :class:`UnsupportedEvent`, ``ping`` is
:class:`IgnoredEvent`):

===========  ===================================  =====================================================
event        actions                              attributes (besides repository, sender, ...)
===========  ===================================  =====================================================
deployment   created                              environment, deployment_id, deployment_statuses_url,
                                                  ref, sha, task
member       added                                member, permission
repository   transferred, privatized, publicized  visibility, previous_owner (transferred)
release      deleted                              release_id, release_tag, release_name
===========  ===================================  =====================================================

Every event gets ``repository`` (full name), ``organization`` (login or None), ``sender`` and
``action``; ``subject`` is the repository's full name; ``requester`` is ``sender.login``; ``source`` is
``github``; ``occurred_at`` is the receipt time (GitHub sends no delivery timestamp).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from shared.contracts.event import AttributeValue, BusinessEvent
from shared.normalize.common import build_event, parse_json_object, utcnow
from shared.normalize.errors import (
    IgnoredEvent,
    InvalidEvent,
    Unauthorized,
    UnsupportedEvent,
    UnsupportedMediaType,
)
from shared.settings import AppSettings

EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
SIGNATURE_HEADER = "x-hub-signature-256"
SOURCE = "github"
SUPPORTED: dict[str, frozenset[str]] = {
    "deployment": frozenset({"created"}),
    "member": frozenset({"added"}),
    "repository": frozenset({"transferred", "privatized", "publicized"}),
    "release": frozenset({"deleted"}),
}
_NAMES = {"event_id": "X-GitHub-Delivery", "requester": "sender.login", "type": "X-GitHub-Event"}


def is_github(headers: dict[str, str]) -> bool:
    """True when the (lower-cased) headers carry ``X-GitHub-Event``."""
    return EVENT_HEADER in headers


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``: ``sha256=<hex hmac>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(headers: dict[str, str], body: bytes, secret: str | None) -> None:
    """Raise :class:`Unauthorized` unless ``X-Hub-Signature-256`` matches ``body`` under ``secret``."""
    if not secret:
        raise Unauthorized(
            "GitHub webhooks are not accepted: no webhook secret is configured", ["X-Hub-Signature-256"]
        )
    received = headers.get(SIGNATURE_HEADER)
    if not received:
        raise Unauthorized("missing X-Hub-Signature-256", ["X-Hub-Signature-256"])
    if not hmac.compare_digest(received.strip().encode(), sign(secret, body).encode()):
        raise Unauthorized("X-Hub-Signature-256 does not match the body", ["X-Hub-Signature-256"])


def _payload(body: bytes, content_type: str | None) -> dict[str, Any]:
    if content_type in (None, "application/json"):
        return parse_json_object(body)
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", errors="replace"))
        if "payload" not in form:
            raise InvalidEvent(["payload"], "form-encoded GitHub delivery without a payload field")
        return parse_json_object(form["payload"][0], "payload")
    raise UnsupportedMediaType(content_type)


def _login(value: Any) -> str | None:
    return value.get("login") if isinstance(value, dict) and isinstance(value.get("login"), str) else None


def _specific(event: str, payload: dict[str, Any]) -> dict[str, AttributeValue]:
    if event == "deployment":
        deployment = payload.get("deployment")
        if not isinstance(deployment, dict):
            raise InvalidEvent(["deployment"], "deployment event without a deployment object")
        if not isinstance(deployment.get("environment"), str):
            raise InvalidEvent(["deployment.environment"], "deployment without an environment")
        return {
            "environment": deployment["environment"],
            "deployment_id": deployment.get("id"),
            "deployment_statuses_url": deployment.get("statuses_url"),
            "ref": deployment.get("ref"),
            "sha": deployment.get("sha"),
            "task": deployment.get("task"),
        }
    if event == "member":
        member = _login(payload.get("member"))
        if member is None:
            raise InvalidEvent(["member.login"], "member event without member.login")
        permission = ((payload.get("changes") or {}).get("permission") or {}).get("to")
        return {"member": member, "permission": permission if isinstance(permission, str) else None}
    if event == "repository":
        repository = payload.get("repository") or {}
        owner_from = ((payload.get("changes") or {}).get("owner") or {}).get("from") or {}
        previous = _login(owner_from.get("user")) or _login(owner_from.get("organization"))
        return {"visibility": repository.get("visibility"), "previous_owner": previous}
    release = payload.get("release")
    if not isinstance(release, dict):
        raise InvalidEvent(["release"], "release event without a release object")
    return {
        "release_id": release.get("id"),
        "release_tag": release.get("tag_name"),
        "release_name": release.get("name"),
    }


def normalize(
    headers: dict[str, str],
    body: bytes,
    content_type: str | None,
    settings: AppSettings,
    channel: Literal["http", "queue"],
    received_at: datetime | None = None,
) -> BusinessEvent:
    """Verify and map one GitHub delivery (lower-cased ``headers``, raw ``body``).

    Raises :class:`Unauthorized` (signature), :class:`UnsupportedMediaType`, :class:`InvalidEvent`
    (missing delivery id, malformed payload), :class:`UnsupportedEvent`, :class:`IgnoredEvent` (ping).
    """
    verify_signature(headers, body, settings.github_webhook_secret)
    event = headers[EVENT_HEADER].strip().lower()
    payload = _payload(body, content_type)
    if event == "ping":
        raise IgnoredEvent("ping received: the webhook is set up; no case is opened", ["X-GitHub-Event"])
    if event not in SUPPORTED:
        raise UnsupportedEvent(
            ["X-GitHub-Event"],
            f"GitHub event {event!r} is not handled; handled: " + ", ".join(sorted(SUPPORTED)),
        )
    action = payload.get("action")
    if action not in SUPPORTED[event]:
        raise UnsupportedEvent(
            ["action"],
            f"GitHub {event} action {action!r} is not handled; handled: "
            + ", ".join(sorted(SUPPORTED[event])),
        )
    repository = payload.get("repository")
    full_name = repository.get("full_name") if isinstance(repository, dict) else None
    attributes: dict[str, AttributeValue] = {
        "action": action,
        "repository": full_name,
        "organization": _login(payload.get("organization")),
        "sender": _login(payload.get("sender")),
        **_specific(event, payload),
    }
    return build_event(
        {
            "event_id": headers.get(DELIVERY_HEADER, ""),
            "source": SOURCE,
            "type": f"github.{event}.{action}",
            "subject": full_name,
            "requester": _login(payload.get("sender")),
            "occurred_at": received_at or utcnow(),
            "format": "github",
            "channel": channel,
            "attributes": attributes,
            "data": payload,
        },
        _NAMES,
    )
