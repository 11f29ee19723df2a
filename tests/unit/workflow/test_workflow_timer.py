"""The maintenance timer's singleton rule (triggers/timer.py) with a recording fake durable client."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import azure.durable_functions as df

from orchestrations.names import CASE_MAINTENANCE, MAINTENANCE_INSTANCE_ID
from triggers.timer import start_maintenance


class FakeClient:
    """Answers get_status with ``status`` and records start_new calls."""

    def __init__(self, runtime: str | None) -> None:
        self.runtime = runtime
        self.started: list[tuple] = []

    async def get_status(self, instance_id: str):
        if self.runtime is None:
            return SimpleNamespace(runtime_status=None, __bool__=lambda: False)
        return SimpleNamespace(runtime_status=df.OrchestrationRuntimeStatus(self.runtime))

    async def start_new(self, name, instance_id, client_input):
        self.started.append((name, instance_id, client_input))
        return instance_id


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
