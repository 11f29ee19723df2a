"""POST /api/events and the case-events queue over real HTTP on devhost, with Azurite and the SQLite hub."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from azure.storage.queue import QueueClient
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent

from shared.contracts import case_instance_id
from shared.normalize import normalize_http
from shared.settings import AppSettings
from tests.fixtures.octokit_examples import TEST_SECRET, delivery, example
from tests.integration.ingress.conftest import MAX_EVENT_BYTES

pytestmark = [pytest.mark.azurite]
API = "/runtime/webhooks/durabletask"


def wait_status(http: httpx.Client, instance_id: str, statuses: set[str], timeout_s: float = 15.0) -> dict:
    """Poll the Durable HTTP API until the instance's runtimeStatus is in ``statuses``."""
    from devhost.testing import wait_for

    def check() -> dict | None:
        r = http.get(f"{API}/instances/{instance_id}")
        if r.status_code in (200, 202) and r.json().get("runtimeStatus") in statuses:
            return r.json()
        return None

    return wait_for(check, timeout_s, 0.05, f"{instance_id} in {sorted(statuses)}")


def plain_event(**overrides: Any) -> dict:
    document = {
        "id": f"pay-{uuid.uuid4().hex[:8]}",
        "type": "payment.release",
        "subject": "inv-1",
        "requester": "alice",
        "data": {"amount": 10, "currency": "EUR"},
    }
    document.update(overrides)
    return document


def expected_id(headers: dict, body: bytes) -> str:
    return case_instance_id(normalize_http(headers, body, AppSettings(github_webhook_secret=TEST_SECRET)))


def test_new_event_starts_a_case_and_answers_with_status_links(http: httpx.Client) -> None:
    """202 with the case's /api/cases link (no Durable management URLs), the case id derived from the
    event, the event as input."""
    document = plain_event()
    body = json.dumps(document).encode()

    r = http.post("/api/events", content=body, headers={"Content-Type": "application/json"})

    assert r.status_code == 202, r.text
    payload = r.json()
    instance_id = expected_id({"Content-Type": "application/json"}, body)
    assert payload["id"] == payload["instanceId"] == instance_id
    assert payload["redelivered"] is False
    assert r.headers["X-Case-Redelivered"] == "false"
    assert r.headers["Location"] == payload["statusUrl"] and payload["statusUrl"].endswith(
        f"/api/cases/{instance_id}"
    )
    assert "runtime/webhooks" not in r.text and not any("Uri" in key for key in payload)
    status = wait_status(http, instance_id, {"Running"})
    assert status["customStatus"] == {"type": "payment.release", "channel": "http"}
    started_input = status["input"] if isinstance(status["input"], dict) else json.loads(status["input"])
    assert started_input["event_id"] == document["id"] and started_input["format"] == "plain"


def test_redelivery_returns_the_existing_case_running_or_completed(http: httpx.Client) -> None:
    """The same event again gets the same case's links, marked redelivered; a finished case is not
    restarted."""
    body = json.dumps(plain_event()).encode()
    headers = {"Content-Type": "application/json"}
    first = http.post("/api/events", content=body, headers=headers).json()
    wait_status(http, first["id"], {"Running"})

    again = http.post("/api/events", content=body, headers=headers)

    assert again.status_code == 202
    assert again.json()["id"] == first["id"] and again.json()["redelivered"] is True
    assert again.headers["X-Case-Redelivered"] == "true"
    assert again.json()["statusUrl"] == first["statusUrl"]

    assert http.post(f"{API}/instances/{first['id']}/raiseEvent/finish", json=True).status_code == 202
    done = wait_status(http, first["id"], {"Completed"})
    later = http.post("/api/events", content=body, headers=headers).json()

    assert later["redelivered"] is True and later["runtimeStatus"] == "Completed"
    assert wait_status(http, first["id"], {"Completed"})["lastUpdatedTime"] == done["lastUpdatedTime"]


def test_signed_github_deployment_starts_a_case(http: httpx.Client) -> None:
    """A real deployment payload signed with the secret opens a github.deployment.created case."""
    headers, body = delivery("deployment", example("deployment", "created"))

    r = http.post("/api/events", content=body, headers=headers)

    assert r.status_code == 202, r.text
    status = wait_status(http, r.json()["id"], {"Running"})
    assert status["customStatus"]["type"] == "github.deployment.created"


def test_binary_cloudevent_starts_a_case(http: httpx.Client) -> None:
    """A binary-mode CloudEvent built with the SDK opens a case."""
    event = CloudEvent(
        attributes={"id": uuid.uuid4().hex, "source": "/crm", "type": "account.change", "requester": "bob"},
        data={"account": "acc-1"},
    )
    message = to_binary_event(event)

    r = http.post("/api/events", content=message.body, headers=message.headers)

    assert r.status_code == 202, r.text
    assert wait_status(http, r.json()["id"], {"Running"})["customStatus"]["type"] == "account.change"


@pytest.mark.parametrize(
    ("status", "headers", "body", "fields"),
    [
        (400, {"Content-Type": "application/json"}, b'{"type": "payment.release"}', ["id", "requester"]),
        (415, {"Content-Type": "text/plain"}, b"hello", ["Content-Type"]),
        (413, {"Content-Type": "application/json"}, b" " * (MAX_EVENT_BYTES + 1), ["body"]),
    ],
    ids=["missing-fields", "media-type", "too-large"],
)
def test_refused_events_answer_json_errors(http: httpx.Client, status, headers, body, fields) -> None:
    """Normalization errors become {"error", "fields"} with their status; no case is started."""
    r = http.post("/api/events", content=body, headers=headers)

    assert r.status_code == status
    assert sorted(r.json()["fields"]) == fields
    assert r.json()["error"]


def test_wrong_signature_is_401(http: httpx.Client) -> None:
    """A GitHub delivery signed with another secret is refused with 401."""
    headers, body = delivery("member", example("member", "added"), secret="wrong")

    r = http.post("/api/events", content=body, headers=headers)

    assert r.status_code == 401
    assert r.json()["fields"] == ["X-Hub-Signature-256"]


def test_ping_is_acknowledged(http: httpx.Client) -> None:
    """GitHub's ping gets 200 and opens no case."""
    headers, body = delivery("ping", example("ping"))

    r = http.post("/api/events", content=body, headers=headers)

    assert r.status_code == 200 and r.json()["status"] == "ignored"


def test_queue_message_starts_the_same_case_as_http(
    http: httpx.Client, azurite: Any, events_queue: str
) -> None:
    """A plain event on the case-events queue starts case_workflow with channel queue."""
    body = json.dumps(plain_event()).encode()
    queue = QueueClient.from_connection_string(azurite.connection_string, events_queue)
    queue.send_message(base64.b64encode(body).decode())

    status = wait_status(http, expected_id({"Content-Type": "application/json"}, body), {"Running"})

    assert status["customStatus"] == {"type": "payment.release", "channel": "queue"}


@pytest.mark.parametrize(
    "raw",
    [b"not json at all", b'{"id": "x"}', b'{"headers": {"X-GitHub-Event": "ping"}, "body": "{}"}'],
    ids=["text", "invalid-event", "unsigned-github"],
)
def test_unparseable_message_lands_in_poison_untouched(
    azurite: Any, events_queue: str, raw: bytes, http: httpx.Client
) -> None:
    """A message that cannot be normalized is moved to <queue>-poison with its stored content unchanged, at
    once: the fixture's host.json sets a 30 s visibility timeout and 5 dequeues, so the host's own retry
    path could not get it there within the 15 s this test waits."""
    from devhost.testing import wait_for

    stored = base64.b64encode(raw).decode()
    queue = QueueClient.from_connection_string(azurite.connection_string, events_queue)
    queue.send_message(stored)
    poison = QueueClient.from_connection_string(azurite.connection_string, events_queue + "-poison")

    def landed() -> bool:
        try:
            return any(m.content == stored for m in poison.peek_messages(max_messages=32))
        except Exception:  # the poison queue does not exist yet
            return False

    assert wait_for(landed, 15, 0.1, "message in the poison queue")


def test_github_envelope_on_the_queue_starts_a_case(
    http: httpx.Client, azurite: Any, events_queue: str
) -> None:
    """A signed GitHub delivery relayed as {headers, body text} on the queue opens the same case as HTTP."""
    headers, body = delivery("release", example("release", "deleted"))
    envelope = json.dumps({"headers": headers, "body": body.decode()})
    queue = QueueClient.from_connection_string(azurite.connection_string, events_queue)
    queue.send_message(base64.b64encode(envelope.encode()).decode())

    status = wait_status(http, expected_id(headers, body), {"Running"})

    assert status["customStatus"] == {"type": "github.release.deleted", "channel": "queue"}
