"""Tool adapters against local HTTP servers: Idempotency-Key, error classes, GitHub reconcile, exactly-once
through the ledger."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from shared import ledger
from shared.adapters import (
    ActionRequest,
    InvalidActionRequest,
    PermanentAdapterError,
    TransientAdapterError,
    UnknownAdapter,
    adapter_names,
    get_adapter,
    idempotency_key,
)
from shared.adapters.github import marker, rebase_api_url
from shared.settings import AppSettings
from tests.fixtures.downstream import DownstreamServer

SETTINGS = AppSettings(http_timeout_s=5.0, github_token="ghs_test_token")


def webhook_request(url: str, **overrides) -> ActionRequest:
    fields = {
        "tool": "webhook",
        "action": "release_payment",
        "instance_id": "case-w",
        "target": "inv-1",
        "parameters": {"url": url + "/hooks/payments", "amount": 10},
        "outcome": "approved",
    }
    fields.update(overrides)
    return ActionRequest(**fields)


def deployment_request(url: str, outcome: str = "approved") -> ActionRequest:
    return ActionRequest(
        tool="github-deployment-status",
        action="report_deployment",
        instance_id="case-g",
        target="Codertocat/Hello-World",
        outcome=outcome,
        parameters={
            "statuses_url": "https://api.github.com/repos/Codertocat/Hello-World/deployments/1/statuses",
            "environment": "production",
        },
    )


def test_registry_names_and_unknown_tool():
    """The registry serves the documented tools and refuses others."""
    assert adapter_names() == ["github-deployment-status", "noop", "record", "webhook"]
    with pytest.raises(UnknownAdapter):
        get_adapter("email")


def test_webhook_posts_json_with_idempotency_key():
    """The webhook adapter POSTs the action with Idempotency-Key and the instance id header."""
    with DownstreamServer() as downstream:
        request = webhook_request(downstream.url)
        result = get_adapter("webhook").apply(request, "case-w:release_payment", SETTINGS)

    (post,) = downstream.posts()
    assert post.path == "/hooks/payments"
    assert post.headers["Idempotency-Key"] == "case-w:release_payment"
    assert post.headers["X-Case-Instance-Id"] == "case-w"
    assert post.body == {
        "idempotency_key": "case-w:release_payment",
        "instance_id": "case-w",
        "action": "release_payment",
        "target": "inv-1",
        "outcome": "approved",
        "parameters": {"amount": 10},
    }
    assert result["status_code"] == 200 and result["response"] == {
        "applied": 1,
        "key": "case-w:release_payment",
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, TransientAdapterError), (429, TransientAdapterError), (400, PermanentAdapterError)],
)
def test_webhook_error_classes(status, error):
    """5xx and 429 are transient (retry), other 4xx permanent."""
    with DownstreamServer() as downstream:
        downstream.fail_next(status)
        with pytest.raises(error):
            get_adapter("webhook").apply(webhook_request(downstream.url), "k", SETTINGS)


def test_webhook_unreachable_is_transient():
    """A refused connection is transient and known not to have applied (nothing was sent)."""
    with DownstreamServer() as downstream:
        url = downstream.url
    with pytest.raises(TransientAdapterError) as caught:
        get_adapter("webhook").apply(webhook_request(url), "k", SETTINGS)
    assert caught.value.not_applied is True


@pytest.mark.parametrize(("status", "untouched"), [(503, True), (429, True), (500, False), (502, False)])
def test_webhook_transient_statuses_say_whether_the_receiver_acted(status, untouched):
    """429 and 503 say the request was not processed (the ledger may release its claim); another 5xx is an
    unknown outcome."""
    with DownstreamServer() as downstream:
        downstream.fail_next(status)
        with pytest.raises(TransientAdapterError) as caught:
            get_adapter("webhook").apply(webhook_request(downstream.url), "k", SETTINGS)
    assert caught.value.not_applied is untouched


def test_idempotency_key_derives_from_the_business_event_not_the_instance():
    """Same source + event id + action: same key, whatever instance runs it; ASCII, header-safe."""
    key = idempotency_key("https://shop.example/orders", "evt-9", "order.cancel")
    assert key == idempotency_key("https://shop.example/orders", "evt-9", "order.cancel")
    assert key != idempotency_key("https://shop.example/orders", "evt-10", "order.cancel")
    assert key != idempotency_key("other", "evt-9", "order.cancel")
    assert key.endswith(":order.cancel") and key.isascii()


def test_webhook_without_url_is_invalid():
    """parameters.url is required."""
    with pytest.raises(InvalidActionRequest) as caught:
        get_adapter("webhook").apply(webhook_request("x", parameters={}), "k", SETTINGS)
    assert caught.value.parameter == "url"


@pytest.mark.azurite
def test_webhook_through_the_ledger_reaches_the_downstream_once(storage_settings):
    """Applying the same key three times through the ledger sends exactly one request."""
    with DownstreamServer() as downstream:
        request = webhook_request(downstream.url)
        key = idempotency_key("tests", "evt-1", request.action)
        adapter = get_adapter("webhook")
        results = [
            ledger.apply_once(storage_settings, key, lambda: adapter.apply(request, key, storage_settings))
            for _ in range(3)
        ]

    assert len(downstream.posts()) == 1
    assert [r.replayed for r in results] == [False, True, True]


@pytest.mark.azurite
def test_webhook_crash_after_acting_is_closed_by_the_receiver(storage_settings):
    """A crash between the POST and the ledger record: the retry resends the same key, the receiver applies
    it once."""
    clock = [datetime(2026, 11, 25, tzinfo=UTC)]
    with DownstreamServer() as downstream:
        request = webhook_request(downstream.url)
        key = idempotency_key("tests", "evt-1", request.action)
        adapter = get_adapter("webhook")

        def act_then_crash() -> dict:
            adapter.apply(request, key, storage_settings)
            raise SystemError("process killed before recording")

        with pytest.raises(SystemError):
            ledger.apply_once(storage_settings, key, act_then_crash, now=lambda: clock[0])
        clock[0] = clock[0].replace(minute=1)
        entry = ledger.apply_once(
            storage_settings, key, lambda: adapter.apply(request, key, storage_settings), now=lambda: clock[0]
        )

    assert len(downstream.posts()) == 2
    assert {p.headers["Idempotency-Key"] for p in downstream.posts()} == {key}
    assert len(downstream.effects) == 1
    assert entry.result["response"] == {"applied": 1, "key": key}


def test_rebase_api_url():
    """Payload API URLs move onto the configured API base, GHES /api/v3 prefix dropped."""
    assert rebase_api_url(
        "https://api.github.com/repos/o/r/deployments/1/statuses", "http://127.0.0.1:9/"
    ) == ("http://127.0.0.1:9/repos/o/r/deployments/1/statuses")
    assert (
        rebase_api_url("https://ghe.example/api/v3/repos/o/r/x?page=2", "http://h")
        == "http://h/repos/o/r/x?page=2"
    )


@pytest.mark.parametrize(
    ("outcome", "state"),
    [("approved", "success"), ("auto", "success"), ("rejected", "failure"), ("expired", "failure")],
)
def test_github_posts_the_outcome_as_deployment_status(outcome, state):
    """The outcome becomes success/failure on the rebased statuses URL, with the bearer token."""
    with DownstreamServer() as downstream:
        settings = dataclasses.replace(SETTINGS, github_api_url=downstream.url)
        result = get_adapter("github-deployment-status").apply(
            deployment_request(downstream.url, outcome), "case-g:report_deployment", settings
        )

    (post,) = downstream.posts()
    assert post.path == "/repos/Codertocat/Hello-World/deployments/1/statuses"
    assert post.headers["Authorization"] == "Bearer ghs_test_token"
    assert post.body["state"] == state
    assert post.body["environment"] == "production"
    assert post.body["description"].endswith(marker("case-g:report_deployment"))
    assert len(post.body["description"]) <= 140
    assert result == {
        "tool": "github-deployment-status",
        "state": state,
        "status_id": 1,
        "status_url": downstream.url + post.path,
        "reconciled": False,
    }


def test_github_reconciles_before_posting_again():
    """When the status with this action's marker already exists, no second status is posted."""
    with DownstreamServer() as downstream:
        settings = dataclasses.replace(SETTINGS, github_api_url=downstream.url)
        adapter = get_adapter("github-deployment-status")
        first = adapter.apply(deployment_request(downstream.url), "case-g:report_deployment", settings)
        second = adapter.apply(deployment_request(downstream.url), "case-g:report_deployment", settings)

    assert len(downstream.posts()) == 1
    assert len(downstream.statuses) == 1
    assert second["reconciled"] and second["status_id"] == first["status_id"]


def test_github_other_keys_post_their_own_status():
    """A status with a different marker does not count as this action's."""
    with DownstreamServer() as downstream:
        settings = dataclasses.replace(SETTINGS, github_api_url=downstream.url)
        adapter = get_adapter("github-deployment-status")
        adapter.apply(deployment_request(downstream.url), "case-x:report_deployment", settings)
        adapter.apply(deployment_request(downstream.url), "case-y:report_deployment", settings)

    assert len(downstream.statuses) == 2


def test_github_server_error_is_transient_and_unauthorized_permanent():
    """5xx on the listing is transient; 401 is permanent."""
    with DownstreamServer() as downstream:
        settings = dataclasses.replace(SETTINGS, github_api_url=downstream.url)
        adapter = get_adapter("github-deployment-status")
        downstream.fail_next(502)
        with pytest.raises(TransientAdapterError):
            adapter.apply(deployment_request(downstream.url), "k", settings)
        downstream.fail_next(401)
        with pytest.raises(PermanentAdapterError):
            adapter.apply(deployment_request(downstream.url), "k", settings)
    assert downstream.posts() == []


def test_record_adapter_has_no_effect():
    """noop/record only describe the action."""
    request = webhook_request("http://unused", tool="record")

    result = get_adapter("record").apply(request, "case-w:release_payment", SETTINGS)

    assert result["recorded"] is True and result["action"] == "release_payment"
