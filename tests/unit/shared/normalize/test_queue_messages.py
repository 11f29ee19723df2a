"""Queue messages: the same formats as HTTP, plus the HTTP envelope for GitHub and binary CloudEvents."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from shared.contracts import case_instance_id
from shared.normalize import (
    InvalidEvent,
    PayloadTooLarge,
    Unauthorized,
    normalize_http,
    normalize_queue_message,
)
from shared.settings import AppSettings
from tests.fixtures.octokit_examples import TEST_SECRET, delivery, example

SETTINGS = AppSettings(github_webhook_secret=TEST_SECRET, max_event_bytes=65536)


def order_cancel() -> CloudEvent:
    return CloudEvent(
        attributes={"id": "oc-1", "source": "/shop", "type": "order.cancel", "requester": "dave"},
        data={"order": "o-1"},
    )


def test_structured_cloudevent_message():
    """A structured CloudEvent as message text normalizes with channel queue."""
    event = normalize_queue_message(to_structured_event(order_cancel()).body.decode(), SETTINGS)

    assert event.type == "order.cancel"
    assert event.channel == "queue"


def test_plain_event_message_as_bytes():
    """A plain event as bytes normalizes too."""
    body = json.dumps({"id": "d-1", "type": "document.received", "requester": "erin"}).encode()

    event = normalize_queue_message(body, SETTINGS)

    assert event.format == "plain" and event.channel == "queue"


def test_binary_cloudevent_envelope():
    """A binary CloudEvent travels as an envelope of its headers and body."""
    message = to_binary_event(order_cancel())
    envelope = {"headers": message.headers, "body": json.loads(message.body)}

    event = normalize_queue_message(json.dumps(envelope), SETTINGS)

    assert event.event_id == "oc-1" and event.data == {"order": "o-1"}


def test_github_envelope_is_verified_and_maps_like_http():
    """A GitHub delivery relayed as {headers, body text} gives the same case as over HTTP."""
    headers, body = delivery("release", example("release", "deleted"), delivery_id="q-1")

    queued = normalize_queue_message(json.dumps({"headers": headers, "body": body.decode()}), SETTINGS)
    direct = normalize_http(headers, body, SETTINGS)

    assert queued.type == "github.release.deleted"
    assert queued.channel == "queue"
    assert case_instance_id(queued) == case_instance_id(direct)


def test_github_envelope_with_wrong_signature_is_unauthorized():
    """The signature is checked for queued GitHub deliveries as well."""
    headers, body = delivery("release", example("release", "deleted"), secret="another-secret")

    with pytest.raises(Unauthorized):
        normalize_queue_message(json.dumps({"headers": headers, "body": body.decode()}), SETTINGS)


def test_github_envelope_with_object_body_is_refused():
    """A re-serialized GitHub body could never match its signature: 400 naming body."""
    headers, body = delivery("release", example("release", "deleted"))

    with pytest.raises(InvalidEvent) as caught:
        normalize_queue_message(json.dumps({"headers": headers, "body": json.loads(body)}), SETTINGS)

    assert caught.value.fields == ["body"]


def test_non_json_message_names_message():
    """A message that is not JSON is a 400 naming message."""
    with pytest.raises(InvalidEvent) as caught:
        normalize_queue_message("hello", SETTINGS)

    assert caught.value.fields == ["message"]


def test_envelope_headers_must_be_strings():
    """Envelope headers with non-string values are refused naming headers."""
    with pytest.raises(InvalidEvent) as caught:
        normalize_queue_message(json.dumps({"headers": {"X-GitHub-Event": 1}, "body": ""}), SETTINGS)

    assert caught.value.fields == ["headers"]


def test_oversized_message_is_refused():
    """The size limit applies to queue messages too."""
    with pytest.raises(PayloadTooLarge):
        normalize_queue_message("x" * 70000, SETTINGS)
