"""start_case: new case, redelivery, and the lost start race, against a scripted durable client.

The real client is exercised over HTTP in tests/integration/ingress; the race (two first deliveries at the
same moment) cannot be timed reliably there, so this stand-in scripts the answers the SDK client gives.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from shared.contracts import BusinessEvent, case_instance_id
from tests.fixtures.durable_client import FakeDurableClient
from triggers.ingress import start_case

EVENT = BusinessEvent(
    event_id="e-1",
    source="/erp",
    type="payment.release",
    requester="alice",
    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    format="plain",
    channel="http",
)


ScriptedClient = FakeDurableClient


def test_new_event_starts_case_workflow_with_the_event_as_input():
    """No instance yet: start_new('case_workflow', derived id, event JSON)."""
    client = ScriptedClient([None])

    result = asyncio.run(start_case(client, EVENT))

    assert not result.redelivered and result.instance_id == case_instance_id(EVENT)
    assert client.started == [("case_workflow", case_instance_id(EVENT), EVENT.model_dump(mode="json"))]


def test_existing_instance_is_a_redelivery_and_not_started():
    """An instance in any status means redelivery; nothing is started."""
    client = ScriptedClient(["Completed"])

    result = asyncio.run(start_case(client, EVENT))

    assert result.redelivered and result.runtime_status == "Completed"
    assert client.started == []


def test_lost_start_race_answers_as_redelivery():
    """start_new refused because a concurrent delivery just started the case: redelivery, no error."""
    client = ScriptedClient([None, "Pending"], start_error=RuntimeError("instance already exists"))

    result = asyncio.run(start_case(client, EVENT))

    assert result.redelivered and result.runtime_status == "Pending"


def test_start_failure_without_instance_is_raised():
    """start_new failing while no instance exists is a real error (the host retries / answers 500)."""
    client = ScriptedClient([None, None], start_error=RuntimeError("task hub unreachable"))

    with pytest.raises(RuntimeError, match="unreachable"):
        asyncio.run(start_case(client, EVENT))
