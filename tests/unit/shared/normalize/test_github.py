"""GitHub webhooks → BusinessEvent, with real @octokit/webhooks-examples payloads signed by a test secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from shared.contracts import case_instance_id
from shared.normalize import (
    IgnoredEvent,
    InvalidEvent,
    Unauthorized,
    UnsupportedEvent,
    UnsupportedMediaType,
    normalize_http,
)
from shared.normalize.github import sign
from shared.settings import AppSettings
from tests.fixtures.key_vault import reference
from tests.fixtures.octokit_examples import TEST_SECRET, delivery, example

SETTINGS = AppSettings(github_webhook_secret=TEST_SECRET)
RECEIVED = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def test_deployment_created_maps_environment_and_statuses_url():
    """A deployment delivery becomes github.deployment.created with its environment as an attribute."""
    headers, body = delivery("deployment", example("deployment", "created"), delivery_id="d-1")

    event = normalize_http(headers, body, SETTINGS, received_at=RECEIVED)

    assert event.type == "github.deployment.created"
    assert event.event_id == "d-1"
    assert event.source == "github"
    assert event.requester == "Codertocat"
    assert event.subject == "Codertocat/Hello-World"
    assert event.format == "github" and event.channel == "http"
    assert event.occurred_at == RECEIVED
    assert event.attributes["environment"] == "production"
    assert event.attributes["deployment_statuses_url"] == (
        "https://api.github.com/repos/Codertocat/Hello-World/deployments/145988746/statuses"
    )
    assert event.data == example("deployment", "created")


@pytest.mark.parametrize(
    ("name", "action", "expected"),
    [
        ("member", "added", {"member": "hacktocat"}),
        ("repository", "transferred", {"previous_owner": "octocat"}),
        ("repository", "privatized", {"repository": "Codertocat/Hello-World"}),
        ("repository", "publicized", {"repository": "Codertocat/Hello-World"}),
        ("release", "deleted", {"release_tag": "0.0.1"}),
    ],
)
def test_supported_events_map_type_requester_and_attributes(name, action, expected):
    """Each handled event/action maps to github.<event>.<action>, requester sender.login, and its facts."""
    payload = example(name, action)
    headers, body = delivery(name, payload)

    event = normalize_http(headers, body, SETTINGS)

    assert event.type == f"github.{name}.{action}"
    assert event.requester == payload["sender"]["login"]
    assert event.attributes["action"] == action
    for key, value in expected.items():
        assert event.attributes[key] == value


def test_redelivery_has_the_same_instance_id():
    """The same payload maps onto the same case id whatever X-GitHub-Delivery says (a replayed signed body
    with a fresh delivery id is a redelivery, issue 9 item 7); another object onto another case."""
    payload = example("member", "added")
    first = normalize_http(*delivery("member", payload, delivery_id="g-1"), SETTINGS)
    again = normalize_http(*delivery("member", payload, delivery_id="g-1"), SETTINGS)
    replayed = normalize_http(*delivery("member", payload, delivery_id="g-2"), SETTINGS)
    other_member = json.loads(json.dumps(payload))
    other_member["member"]["id"] = 987654321
    other_member["member"]["login"] = "someone-else"
    other = normalize_http(*delivery("member", other_member, delivery_id="g-3"), SETTINGS)

    assert case_instance_id(first) == case_instance_id(again) == case_instance_id(replayed)
    assert case_instance_id(first) != case_instance_id(other)


def test_wrong_signature_is_401():
    """A body signed with another secret is refused before anything is parsed."""
    headers, body = delivery("member", example("member", "added"), secret="not-the-secret")

    with pytest.raises(Unauthorized) as caught:
        normalize_http(headers, body, SETTINGS)

    assert caught.value.status == 401
    assert caught.value.fields == ["X-Hub-Signature-256"]


def test_missing_signature_is_401():
    """A delivery without X-Hub-Signature-256 is refused."""
    headers, body = delivery("member", example("member", "added"), secret=None)

    with pytest.raises(Unauthorized):
        normalize_http(headers, body, SETTINGS)


def test_tampered_body_is_401():
    """Changing one byte after signing breaks the signature."""
    headers, body = delivery("member", example("member", "added"))

    with pytest.raises(Unauthorized):
        normalize_http(headers, body.replace(b"hacktocat", b"hacktocaT"), SETTINGS)


def test_without_configured_secret_every_delivery_is_401():
    """No GITHUB_WEBHOOK_SECRET means no GitHub event is trusted."""
    headers, body = delivery("member", example("member", "added"))

    with pytest.raises(Unauthorized):
        normalize_http(headers, body, AppSettings(github_webhook_secret=None))


def test_delivery_signed_with_unresolved_key_vault_reference_is_401():
    """When App Service cannot resolve GITHUB_WEBHOOK_SECRET the setting holds the reference text; whoever
    knows the vault URL could sign with it. The app reads that as no secret: refused like any delivery."""
    text = reference("github-webhook-secret")
    headers, body = delivery("member", example("member", "added"), secret=text)

    settings = AppSettings.from_env({"GITHUB_WEBHOOK_SECRET": text})
    with pytest.raises(Unauthorized, match="no webhook secret is configured"):
        normalize_http(headers, body, settings)
    assert settings.github_webhook_secret is None


def test_signature_checked_before_json_parsing():
    """Garbage with a wrong signature is 401, not 400: nothing is parsed for an unauthenticated caller."""
    headers, _ = delivery("member", example("member", "added"), secret="other")

    with pytest.raises(Unauthorized):
        normalize_http(headers, b"{not json", SETTINGS)


def test_unhandled_event_names_the_event_header():
    """A push event is well-formed but not handled: UnsupportedEvent naming X-GitHub-Event."""
    headers, body = delivery("push", example("push"))

    with pytest.raises(UnsupportedEvent) as caught:
        normalize_http(headers, body, SETTINGS)

    assert caught.value.status == 400
    assert caught.value.fields == ["X-GitHub-Event"]


def test_unhandled_action_names_the_action_field():
    """release/published is not an irreversible action we handle: UnsupportedEvent naming action."""
    headers, body = delivery("release", example("release", "published"))

    with pytest.raises(UnsupportedEvent) as caught:
        normalize_http(headers, body, SETTINGS)

    assert caught.value.fields == ["action"]


def test_ping_is_ignored_with_200():
    """The ping GitHub sends when a webhook is created opens no case."""
    headers, body = delivery("ping", example("ping"))

    with pytest.raises(IgnoredEvent) as caught:
        normalize_http(headers, body, SETTINGS)

    assert caught.value.status == 200


def test_missing_delivery_id_names_the_header():
    """Without X-GitHub-Delivery there is no event id: 400 naming the header."""
    headers, body = delivery("member", example("member", "added"))
    del headers["X-GitHub-Delivery"]

    with pytest.raises(InvalidEvent) as caught:
        normalize_http(headers, body, SETTINGS)

    assert caught.value.fields == ["X-GitHub-Delivery"]


def test_form_encoded_delivery_is_accepted():
    """Webhooks configured with application/x-www-form-urlencoded carry the JSON in a payload field."""
    payload = example("release", "deleted")
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers, _ = delivery("release", payload)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["X-Hub-Signature-256"] = sign(TEST_SECRET, body)

    event = normalize_http(headers, body, SETTINGS)

    assert event.type == "github.release.deleted"


def test_other_content_type_is_415():
    """A GitHub delivery with a non-JSON, non-form Content-Type is refused with 415."""
    headers, body = delivery("member", example("member", "added"))
    headers["Content-Type"] = "text/plain"

    with pytest.raises(UnsupportedMediaType):
        normalize_http(headers, body, SETTINGS)


def test_header_names_are_case_insensitive():
    """Lower-cased header names (as some proxies send them) work the same."""
    headers, body = delivery("member", example("member", "added"), delivery_id="lc")

    event = normalize_http({k.lower(): v for k, v in headers.items()}, body, SETTINGS)

    assert event.event_id == "lc"
