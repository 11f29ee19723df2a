"""At shutdown the host stops the extensions' own triggers (timers, queue pollers) while its HTTP server
still answers, so a last timer run that calls the app's endpoints (a durable client) never meets a closed
port; the server stops after, the extensions' ``stop`` last."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from devhost.testing import run_host
from tests.devhost.fakes import FakeExtension
from tests.fixtures.paths import APPS


class TriggerOwner(FakeExtension):
    """Records, in order, what the host asked and whether its HTTP server answered at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int | str]] = []

    async def _ping(self) -> int | str:
        assert self.services is not None
        url = f"{self.services.base_url}/admin/host/ping"
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                return (await client.get(url)).status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__

    async def stop_triggers(self, timeout_s: float) -> None:
        self.events.append(("stop_triggers", await self._ping()))

    async def stop(self, timeout_s: float) -> None:
        await asyncio.sleep(0)
        self.events.append(("stop", await self._ping()))


def test_triggers_stop_while_the_server_still_answers(tmp_path: Path) -> None:
    """stop_triggers runs first and the server answers it (200); by stop, nothing answers any more."""
    owner = TriggerOwner()
    with run_host(APPS / "http_basic", data_dir=tmp_path, extensions=[owner]):
        pass
    assert [name for name, _ in owner.events] == ["stop_triggers", "stop"]
    assert owner.events[0][1] == 200
    assert owner.events[1][1] != 200
