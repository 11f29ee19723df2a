"""Fakes for listener tests: an invoker whose invocations wait until the test releases them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from devhost.functions.interfaces import FunctionInfo, InvocationResult


class GatedInvoker:
    """Records each invocation (args, trigger metadata) and holds it until :meth:`release` (or
    ``hold=False``). ``running`` counts invocations in progress; ``peak`` the most at once."""

    def __init__(self, *, hold: bool = True) -> None:
        self.hold = hold
        self.calls: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        self._gates: list[asyncio.Event] = []
        self.running = 0
        self.peak = 0

    async def invoke(
        self,
        function: FunctionInfo,
        args: Mapping[str, Any],
        trigger_metadata: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> InvocationResult:
        gate = asyncio.Event()
        if not self.hold:
            gate.set()
        self.calls.append((args, dict(trigger_metadata or {})))
        self._gates.append(gate)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await gate.wait()
        finally:
            self.running -= 1
        return InvocationResult("fake", None, {}, 0.0)

    def release(self, n: int | None = None) -> None:
        """Let the first ``n`` held invocations (all when None) finish."""
        waiting = [g for g in self._gates if not g.is_set()]
        for gate in waiting if n is None else waiting[:n]:
            gate.set()


async def eventually(
    predicate: Callable[[], Any], timeout_s: float = 10.0, message: str = "condition"
) -> Any:
    """Poll ``predicate`` on the event loop until truthy (returned) or TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not met within {timeout_s}s")
        await asyncio.sleep(0.01)
