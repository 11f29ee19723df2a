"""CloudEvents 1.0 → BusinessEvent, with events built and encoded by the official cloudevents SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from shared.contracts import case_instance_id
from shared.normalize import InvalidEvent, UnsupportedMediaType, normalize_http
from shared.settings import AppSettings

SETTINGS = AppSettings()
OCCURRED = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def payment(**overrides) -> CloudEvent:
    """A payment.release CloudEvent built with the SDK (None removes an attribute)."""
    attributes = {
        "id": "pay-1001",
        "source": "/erp/payments",
        "type": "payment.release",
        "subject": "invoice-77",
        "time": OCCURRED,
        "requester": "alice",
    }
    attributes.update(overrides)
    return CloudEvent(
        attributes={k: v for k, v in attributes.items() if v is not None},
        data={"amount": 1200, "currency": "EUR", "lines": [1, 2]},
    )


def post_structured(document: dict, **kwargs):
    return normalize_http(
        {"Content-Type": "application/cloudevents+json"}, json.dumps(document).encode(), SETTINGS, **kwargs
    )


@pytest.mark.parametrize("encode", [to_structured_event, to_binary_event], ids=["structured", "binary"])
def test_both_content_modes_give_the_same_event(encode):
    """Structured and binary CloudEvents normalize to the same BusinessEvent fields."""
    message = encode(payment())

    event = normalize_http(message.headers, message.body, SETTINGS, received_at=RECEIVED)

    assert event.event_id == "pay-1001"
    assert event.source == "/erp/payments"
    assert event.type == "payment.release"
    assert event.subject == "invoice-77"
    assert event.requester == "alice"
    assert event.occurred_at == OCCURRED
    assert event.format == "cloudevents"
    assert event.attributes == {"amount": 1200, "currency": "EUR"}
    assert event.data == {"amount": 1200, "currency": "EUR", "lines": [1, 2]}


def test_same_id_and_source_give_the_same_case_in_both_modes():
    """The case id depends on source and id only, not on the content mode."""
    structured = to_structured_event(payment())
    binary = to_binary_event(payment())

    first = normalize_http(structured.headers, structured.body, SETTINGS)
    second = normalize_http(binary.headers, binary.body, SETTINGS)

    assert case_instance_id(first) == case_instance_id(second)


def test_structured_event_sent_as_application_json_is_recognized():
    """A structured CloudEvent posted with Content-Type application/json is still a CloudEvent."""
    message = to_structured_event(payment())

    event = normalize_http({"Content-Type": "application/json"}, message.body, SETTINGS)

    assert event.format == "cloudevents"


def test_requester_may_come_from_data():
    """Without the requester extension, data.requester is used."""
    event_ = CloudEvent(
        attributes={"id": "r1", "source": "/shop", "type": "refund.request"},
        data={"requester": "bob", "amount": 20},
    )
    message = to_structured_event(event_)

    assert normalize_http(message.headers, message.body, SETTINGS).requester == "bob"


def test_missing_requester_names_the_field():
    """A CloudEvent with no requester anywhere is a 400 naming requester."""
    message = to_structured_event(payment(requester=None))

    with pytest.raises(InvalidEvent) as caught:
        normalize_http(message.headers, message.body, SETTINGS)

    assert caught.value.fields == ["requester"]


def test_missing_id_is_refused_not_invented():
    """The SDK would invent a uuid4 id for an event without one; we refuse it (400 naming id)."""
    document = json.loads(to_structured_event(payment()).body)
    del document["id"]

    with pytest.raises(InvalidEvent) as caught:
        post_structured(document)

    assert caught.value.fields == ["id"]


def test_binary_without_ce_id_names_the_header():
    """Binary mode without ce-id and ce-source: 400 naming both headers."""
    message = to_binary_event(payment())
    headers = {k: v for k, v in message.headers.items() if k not in ("ce-id", "ce-source")}

    with pytest.raises(InvalidEvent) as caught:
        normalize_http(headers, message.body, SETTINGS)

    assert caught.value.fields == ["ce-id", "ce-source"]


def test_type_must_be_dotted_lower_case():
    """A type like com.Example.Thing is refused with 400 naming type."""
    message = to_structured_event(payment(type="Com.Example.PaymentRelease"))

    with pytest.raises(InvalidEvent) as caught:
        normalize_http(message.headers, message.body, SETTINGS)

    assert caught.value.fields == ["type"]


def test_data_must_be_a_json_object():
    """Text data is refused: 400 naming data."""
    event_ = CloudEvent(
        attributes={
            "id": "t1",
            "source": "/x",
            "type": "order.cancel",
            "requester": "a",
            "datacontenttype": "application/json",
        },
        data="just text",
    )
    message = to_structured_event(event_)

    with pytest.raises(InvalidEvent) as caught:
        normalize_http(message.headers, message.body, SETTINGS)

    assert caught.value.fields == ["data"]


def test_binary_with_non_json_data_is_415():
    """A binary CloudEvent whose data is text/plain is an unsupported media type."""
    message = to_binary_event(payment())
    headers = dict(message.headers, **{"content-type": "text/plain"})

    with pytest.raises(UnsupportedMediaType):
        normalize_http(headers, b"hello", SETTINGS)


def test_batch_mode_is_415():
    """application/cloudevents-batch+json is not accepted."""
    with pytest.raises(UnsupportedMediaType):
        normalize_http({"Content-Type": "application/cloudevents-batch+json"}, b"[]", SETTINGS)


def test_specversion_other_than_1_0_is_refused():
    """Only specversion 1.0 is accepted (400 naming specversion)."""
    document = json.loads(to_structured_event(payment()).body)
    document["specversion"] = "0.3"

    with pytest.raises(InvalidEvent) as caught:
        post_structured(document)

    assert caught.value.fields == ["specversion"]


def test_event_without_time_gets_the_receipt_time():
    """Without a time attribute occurred_at is the receipt time, not the SDK's own clock."""
    document = json.loads(to_structured_event(payment()).body)
    del document["time"]

    event = post_structured(document, received_at=RECEIVED)

    assert event.occurred_at == RECEIVED


def test_bad_time_names_the_field():
    """An unparsable time is a 400 naming time."""
    document = json.loads(to_structured_event(payment()).body)
    document["time"] = "yesterday"

    with pytest.raises(InvalidEvent) as caught:
        post_structured(document)

    assert caught.value.fields == ["time"]


def test_extension_attributes_become_routing_attributes():
    """CloudEvents extension attributes (other than requester) are routing attributes."""
    message = to_binary_event(payment(region="eu"))

    event = normalize_http(message.headers, message.body, SETTINGS)

    assert event.attributes["region"] == "eu"
    assert "requester" not in event.attributes


def test_binary_bad_time_header_names_it():
    """An unparsable ce-time header is a 400 naming ce-time."""
    message = to_binary_event(payment())
    headers = dict(message.headers, **{"ce-time": "not-a-time"})

    with pytest.raises(InvalidEvent) as caught:
        normalize_http(headers, message.body, SETTINGS)

    assert caught.value.fields == ["ce-time"]
