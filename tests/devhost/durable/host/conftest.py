"""Fixtures for the durable engine tests: one in-process devhost per module running the fixture app
tests/apps/durable_engine_app on a virtual clock (auto-advancing when idle), and the task hub façade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devhost.durable.hub import InstanceState, TaskHub
from devhost.testing import HostThread, run_host

APPS = Path(__file__).resolve().parents[3] / "apps"
ENGINE_APP = APPS / "durable_engine_app"
START = datetime(2030, 1, 1, tzinfo=UTC)


class Engine:
    """A running devhost plus helpers that call the task hub on the host's event loop."""

    def __init__(self, host: HostThread) -> None:
        self.host = host
        ext = next(e for e in host.host.extensions if e.name == "durable")  # type: ignore[union-attr]
        self.extension: Any = ext
        self.hub: TaskHub = ext.hub

    @property
    def clock(self) -> Any:
        return self.host.clock

    def run(self, coro: Any, timeout_s: float = 30) -> Any:
        return self.host.call(coro, timeout_s)

    def start(self, name: str, input_json: str | None = None, instance_id: str | None = None,
              version: str | None = None) -> str:
        return self.run(self.hub.start_new(name, instance_id, input_json, version))

    def state(self, instance_id: str) -> InstanceState:
        state = self.run(self.hub.get_instance(instance_id))
        assert state is not None
        return state

    def wait(self, instance_id: str, timeout_s: float = 20) -> InstanceState:
        """Wait (real time) until the instance is terminal; fails the test on timeout."""
        state = self.run(self.hub.wait_for_completion(instance_id, timeout_s), timeout_s + 5)
        status = state and state.runtime_status
        assert state is not None and state.is_terminal, f"{instance_id} still {status}"
        return state

    def wait_until(self, instance_id: str, predicate: Any, timeout_s: float = 10) -> InstanceState:
        """Wait until ``predicate(state)`` holds after some committed episode."""
        import time

        deadline = time.monotonic() + timeout_s
        state = self.state(instance_id)
        while not predicate(state):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; last state {state}")
            self.run(self.hub.wait_for_change(instance_id, 0.2))
            state = self.state(instance_id)
        return state

    def history_types(self, instance_id: str) -> list[int]:
        return [e["EventType"] for e in self.run(self.hub.get_history(instance_id))]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """devhost with the engine fixture app, virtual clock starting 2030-01-01 (auto-advance)."""
    from devhost.clock import VirtualClock

    clock = VirtualClock(START, auto_advance=True)
    with run_host(ENGINE_APP, data_dir=tmp_path_factory.mktemp("engine"), clock=clock) as host:
        yield Engine(host)
