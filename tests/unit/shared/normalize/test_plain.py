"""Plain JSON business events, size and media-type checks of the HTTP ingress."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.normalize import InvalidEvent, PayloadTooLarge, UnsupportedMediaType, normalize_http
from shared.settings import AppSettings

SETTINGS = AppSettings(max_event_bytes=2048)
JSON = {"Content-Type": "application/json; charset=utf-8"}


def post(document: dict, headers: dict | None = None, settings: AppSettings = SETTINGS):
    return normalize_http(headers or JSON, json.dumps(document).encode(), settings)


def refund(**overrides) -> dict:
    """A valid plain refund.request event (None removes a key)."""
    document = {
        "id": "rf-9",
        "type": "refund.request",
        "subject": "order-42",
        "requester": "carol",
        "time": "2026-11-20T12:00:00Z",
        "data": {"amount": 75.5, "currency": "USD", "reason": "damaged", "items": ["a"]},
    }
    document.update(overrides)
    return {k: v for k, v in document.items() if v is not None}


def test_plain_event_maps_every_field():
    """A plain event keeps id, type, subject, requester, time and data; scalars of data become attributes."""
    event = post(refund())

    assert event.event_id == "rf-9"
    assert event.source == "plain"
    assert event.type == "refund.request"
    assert event.subject == "order-42"
    assert event.requester == "carol"
    assert event.occurred_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert event.format == "plain" and event.channel == "http"
    assert event.attributes == {"amount": 75.5, "currency": "USD", "reason": "damaged"}


def test_explicit_attributes_override_data_scalars():
    """attributes given in the event win over the scalars copied from data."""
    event = post(refund(attributes={"currency": "EUR", "region": "eu"}, source="shop"))

    assert event.attributes["currency"] == "EUR"
    assert event.attributes["region"] == "eu"
    assert event.source == "shop"


def test_missing_fields_are_all_named():
    """Missing id, type and requester are reported together."""
    with pytest.raises(InvalidEvent) as caught:
        post({"data": {}})

    assert caught.value.status == 400
    assert sorted(caught.value.fields) == ["id", "requester", "type"]


def test_unknown_field_is_named():
    """A typo such as 'requestor' is refused, naming it."""
    with pytest.raises(InvalidEvent) as caught:
        post(refund(requestor="x"))

    assert caught.value.fields == ["requestor"]


def test_bad_time_is_named():
    """An unparsable time is a 400 naming time."""
    with pytest.raises(InvalidEvent) as caught:
        post(refund(time="next tuesday"))

    assert caught.value.fields == ["time"]


def test_data_must_be_an_object():
    """data as a list is a 400 naming data."""
    with pytest.raises(InvalidEvent) as caught:
        post(refund(data=[1, 2]))

    assert caught.value.fields == ["data"]


def test_invalid_json_is_400_naming_body():
    """A body that is not JSON is a 400 naming body."""
    with pytest.raises(InvalidEvent) as caught:
        normalize_http(JSON, b"{oops", SETTINGS)

    assert caught.value.fields == ["body"]


def test_oversized_body_is_413():
    """A body over CASE_MAX_EVENT_BYTES is refused before parsing (even if not JSON)."""
    with pytest.raises(PayloadTooLarge) as caught:
        normalize_http(JSON, b"x" * 2049, SETTINGS)

    assert caught.value.status == 413
    assert caught.value.limit == 2048


def test_declared_oversized_content_length_is_413():
    """A Content-Length over the limit is refused even if the body seen is short."""
    with pytest.raises(PayloadTooLarge):
        normalize_http({**JSON, "Content-Length": "999999"}, b"{}", SETTINGS)


def test_body_at_the_limit_is_accepted():
    """Exactly max_event_bytes is still fine."""
    document = refund()
    raw = json.dumps(document).encode()
    settings = AppSettings(max_event_bytes=len(raw))

    assert normalize_http(JSON, raw, settings).event_id == "rf-9"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "multipart/form-data"])
def test_other_content_types_are_415(content_type):
    """Anything but JSON, CloudEvents or a GitHub delivery is an unsupported media type."""
    headers = {} if content_type is None else {"Content-Type": content_type}

    with pytest.raises(UnsupportedMediaType) as caught:
        normalize_http(headers, b"{}", SETTINGS)

    assert caught.value.status == 415
    assert caught.value.fields == ["Content-Type"]
