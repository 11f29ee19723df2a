"""Real inputs end to end: signed @octokit/webhooks-examples payloads, CloudEvents from the SDK, the queue,
and the audit trail's tamper detection."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from devhost.testing import wait_for
from tests.e2e.case_harness import principal
from tests.fixtures.octokit_examples import delivery, example

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

BOB = principal("bob", "approver")
DAVE = principal("dave", "admin")
CAROL = principal("carol", "approver")


def github(app, event: str, action: str, delivery_id: str, **changes):
    payload = example(event, action)
    payload.update(changes)
    headers, body = delivery(event, payload, delivery_id=delivery_id)
    return app.client.send(None, headers=headers, raw=body)


def test_production_deployment_approved_reports_success_status(app):
    """A signed deployment (production) waits; once approved, one success status reaches the GitHub API."""
    r = github(app, "deployment", "created", "d-approve-1")
    assert r.status_code == 202, r.text
    case_id = r.json()["instanceId"]
    view = app.client.wait_pending(case_id)
    assert view["requester"] == "Codertocat" and view["riskClass"] == "privileged"
    assert app.client.decide(case_id, BOB).status_code == 202
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert view["stage"] == "completed", view["outcome"]
    assert [s["state"] for s in app.downstream.statuses] == ["success"]
    post = next(p for p in app.downstream.posts() if p.path.endswith("/statuses"))
    assert post.path == "/repos/Codertocat/Hello-World/deployments/145988746/statuses"
    assert post.headers["Authorization"] == "Bearer test-token"


def test_production_deployment_rejected_reports_failure_status(app):
    """A rejected deployment case reports a failure deployment status (the fallback through the tool)."""
    case_id = github(app, "deployment", "created", "d-reject-1").json()["instanceId"]
    app.client.wait_pending(case_id)
    assert app.client.decide(case_id, BOB, "reject", "freeze").status_code == 202
    view = app.client.wait_stage(case_id, "rejected", "failed")
    assert view["stage"] == "rejected"
    assert [s["state"] for s in app.downstream.statuses] == ["failure"]


def test_wrong_signature_is_refused(app):
    """A GitHub delivery signed with another secret is 401 and opens no case."""
    headers, body = delivery("release", example("release", "deleted"), secret="wrong-secret")
    assert app.client.send(None, headers=headers, raw=body).status_code == 401


def test_release_deleted_needs_a_quorum_of_two(app):
    """release deleted is irreversible: two distinct approvers (approver or admin)."""
    case_id = github(app, "release", "deleted", "rel-del-1").json()["instanceId"]
    view = app.client.wait_pending(case_id)
    assert view["pendingApproval"]["required"] == 2
    assert app.client.decide(case_id, CAROL).status_code == 202
    assert app.client.decide(case_id, DAVE).status_code == 202
    view = app.client.wait_stage(case_id, "completed", "failed")
    assert sorted(view["outcome"]["approvers"]) == ["carol", "dave"]


@pytest.mark.parametrize("encode", [to_structured_event, to_binary_event], ids=["structured", "binary"])
def test_cloudevent_refund_completes(app, encode):
    """A small refund as a CloudEvent (both content modes) completes without approval."""
    event = CloudEvent(
        attributes={
            "id": f"refund-{encode.__name__}",
            "source": "/shop/refunds",
            "type": "refund.request",
            "subject": "order-7",
            "requester": "alice",
        },
        data={"amount": 30, "currency": "EUR"},
    )
    message = encode(event)
    r = app.client.send(None, headers=dict(message.headers), raw=message.body)
    assert r.status_code == 202, r.text
    view = app.client.wait_stage(r.json()["instanceId"], "completed", "failed")
    assert view["stage"] == "completed"


def test_queue_event_starts_the_same_workflow(app, azurite):
    """A plain event on the case-events queue opens a case like HTTP does."""
    from shared.settings import AppSettings
    from shared.storage import ensure_queue

    settings = AppSettings.from_env(app.settings)
    body = {
        "id": "q-1",
        "type": "document.received",
        "requester": "alice",
        "source": "e2e",
        "subject": "doc-1",
    }
    ensure_queue(settings, settings.events_queue).send_message(json.dumps(body))
    from shared.contracts.event import BusinessEvent, case_instance_id

    case_id = case_instance_id(
        BusinessEvent(
            event_id="q-1",
            source="e2e",
            type="document.received",
            requester="alice",
            occurred_at="2026-01-01T00:00:00Z",
            format="plain",
            channel="queue",
        )
    )
    view = wait_for(lambda: _completed(app, case_id), timeout_s=60, message="queue case completed")
    assert view["stage"] == "completed"


def _completed(app, case_id):
    r = app.client.http.get(f"{app.client.base}/api/cases/{case_id}", headers=BOB)
    return r.json() if r.status_code == 200 and r.json()["stage"] == "completed" else None


def test_tampered_audit_record_is_detected(app, azurite):
    """Editing one stored audit record makes the trail verification name that record."""
    case_id = app.client.send({"id": "o-audit", "type": "order.cancel", "requester": "alice"}).json()[
        "instanceId"
    ]
    app.client.wait_stage(case_id, "completed")
    url = f"{app.client.base}/api/cases/{case_id}/audit"
    trail = wait_for(lambda: _trail_complete(app, url), timeout_s=30, message="audit trail complete")
    assert trail["ok"] is True
    kinds = [r["kind"] for r in trail["records"]]
    assert kinds[0] == "stage" and "side_effect" in kinds

    container = azurite.blob_service_client().get_container_client(app.settings["CASE_AUDIT_CONTAINER"])
    name = f"{case_id}/000000.json"  # the first audit flush: records 0, 1, 2 (one per line)
    lines = container.download_blob(name).readall().split(b"\n")
    record = json.loads(lines[1])
    record["data"]["stage"] = "completed"
    lines[1] = json.dumps(record).encode()
    container.upload_blob(name, b"\n".join(lines), overwrite=True)

    tampered = app.client.http.get(url, headers=BOB).json()
    assert tampered["ok"] is False and tampered["firstBadSeq"] == 1


def _trail_complete(app, url):
    r = app.client.http.get(url, headers=BOB)
    if r.status_code != 200:
        return None
    body = r.json()
    done = any(rec.get("kind") == "stage" for rec in body["records"][-2:]) and body["count"] >= 5
    return body if done else None
