"""The maintenance timer's singleton rule (triggers/timer.py) with a recording fake durable client."""

from __future__ import annotations

import asyncio

from orchestrations.names import CASE_MAINTENANCE, MAINTENANCE_INSTANCE_ID
from tests.fixtures.durable_client import FakeDurableClient
from triggers.timer import start_maintenance

FakeClient = FakeDurableClient


def test_starts_when_absent_or_finished_and_skips_when_active():
    """Pending/Running → skipped; unknown or Completed/Failed → started under the fixed id."""
    for runtime, expected in [
        (None, True),
        ("Completed", True),
        ("Failed", True),
        ("Running", False),
        ("Pending", False),
    ]:
        client = FakeClient(runtime)
        assert asyncio.run(start_maintenance(client)) is expected, runtime
        assert client.started == ([(CASE_MAINTENANCE, MAINTENANCE_INSTANCE_ID, None)] if expected else [])
