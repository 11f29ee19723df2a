"""A small in-memory stand-in for the task hub façade (devhost.durable.hub.TaskHub), for HTTP API unit tests.

It keeps the façade's contract (methods, InstanceState fields, errors) but runs nothing: tests set
instance states directly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from devhost.durable import errors

TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


@dataclass
class FakeState:
    """The InstanceState fields the HTTP API reads."""

    name: str
    instance_id: str
    runtime_status: str = "Pending"
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    created_time: datetime = field(default_factory=lambda: datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=UTC))
    last_updated_time: datetime = field(default_factory=lambda: datetime(2024, 1, 1, 12, 0, 5, tzinfo=UTC))
    version: str | None = None


class FakeHub:
    """Records calls; ``instances`` and ``histories`` are set by the tests."""

    name = "TestHubName"

    def __init__(self, orchestrators: tuple[str, ...] = ("hello",)) -> None:
        self.orchestrators = set(orchestrators)
        self.instances: dict[str, FakeState] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[Any, ...]] = []

    async def start_new(self, orchestrator: str, instance_id: str | None, input_json: str | None,
                        version: str | None = None) -> str:
        self.calls.append(("start_new", orchestrator, instance_id, input_json, version))
        if orchestrator not in self.orchestrators:
            raise errors.UnknownOrchestrator(orchestrator)
        if instance_id is not None and (not instance_id or instance_id.startswith("@")):
            raise ValueError(f"Invalid instance id {instance_id!r}")
        iid = instance_id or uuid.uuid4().hex
        old = self.instances.get(iid)
        if old is not None and old.runtime_status not in TERMINAL:
            raise errors.InstanceAlreadyExists(iid, old.runtime_status)
        self.instances[iid] = FakeState(orchestrator, iid, "Pending", input_json, version=version)
        return iid

    async def get_instance(self, instance_id: str) -> FakeState | None:
        return self.instances.get(instance_id)

    async def get_history(self, instance_id: str) -> list[dict[str, Any]]:
        return self.histories.get(instance_id, [])

    async def query(self, *, created_from=None, created_to=None, statuses=None, instance_id_prefix=None,
                    top=None, continuation=None):
        self.calls.append(
            ("query", created_from, created_to, statuses, instance_id_prefix, top, continuation))
        found = [s for s in self.instances.values()
                 if (not statuses or s.runtime_status in statuses)
                 and (not instance_id_prefix or s.instance_id.startswith(instance_id_prefix))]
        start = int(continuation or 0)
        page = found[start:start + top] if top else found[start:]
        more = top is not None and start + top < len(found)
        return page, (str(start + top) if more else None)

    async def raise_event(self, instance_id: str, name: str, input_json: str | None) -> None:
        self.calls.append(("raise_event", instance_id, name, input_json))

    async def _lifecycle(self, op: str, instance_id: str, reason: str | None) -> None:
        self.calls.append((op, instance_id, reason))
        state = self.instances[instance_id]
        if op == "suspend" and state.runtime_status == "Suspended":
            raise errors.InvalidOperation(f"Instance {instance_id} is already suspended.")
        if op == "resume" and state.runtime_status != "Suspended":
            raise errors.InvalidOperation(f"Instance {instance_id} is not suspended.")

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._lifecycle("terminate", instance_id, reason)

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._lifecycle("suspend", instance_id, reason)

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._lifecycle("resume", instance_id, reason)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        await self._lifecycle("rewind", instance_id, reason)

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        self.calls.append(("restart", instance_id, new_instance_id))
        old = self.instances.get(instance_id)
        if old is None:
            raise errors.InstanceNotFound(instance_id)
        new_id = uuid.uuid4().hex if new_instance_id else instance_id
        self.instances[new_id] = replace(old, instance_id=new_id, runtime_status="Pending")
        return new_id

    async def purge(self, instance_id: str) -> int:
        return 1 if self.instances.pop(instance_id, None) else 0

    async def purge_by(self, *, created_from, created_to=None, statuses=None) -> int:
        self.calls.append(("purge_by", created_from, created_to, statuses))
        doomed = [k for k, s in self.instances.items() if not statuses or s.runtime_status in statuses]
        for key in doomed:
            del self.instances[key]
        return len(doomed)
