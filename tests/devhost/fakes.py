"""A fake binding extension standing in for the storage and durable extensions in host tests.

It owns queue, blob, timer and activity binding types, records every input resolution and output write,
and implements the optional ``admin_invoke`` hook (unless built with ``admin=False``).
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from devhost.extension import HostServices
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError


class FakeExtension:
    """Records calls; ``blobs`` maps a resolved blob path to its text."""

    name = "fake"
    binding_types = frozenset({"queueTrigger", "queue", "blob", "timerTrigger", "activityTrigger"})

    def __init__(self, blobs: Mapping[str, str] | None = None) -> None:
        self.blobs = dict(blobs or {})
        self.services: HostServices | None = None
        self.writes: list[tuple[str, str, Any]] = []
        self.admin_calls: list[tuple[str, str]] = []
        self.failures: list[FunctionInvocationError] = []
        self.stopped_with: float | None = None

    def routes(self) -> Sequence[Any]:
        return []

    async def start(self, services: HostServices) -> None:
        self.services = services

    async def stop(self, timeout_s: float) -> None:
        self.stopped_with = timeout_s

    async def resolve_input(self, function: FunctionInfo, binding: Mapping[str, Any],
                            trigger_metadata: Mapping[str, Any]) -> Any:
        path = re.sub(r"\{(\w+)\}", lambda m: str(trigger_metadata.get(m.group(1))), str(binding["path"]))
        return self.blobs.get(path)

    async def write_output(self, function: FunctionInfo, binding: Mapping[str, Any], value: Any,
                           trigger_metadata: Mapping[str, Any]) -> None:
        self.writes.append((function.name, str(binding.get("queueName") or binding.get("path")), value))

    async def admin_invoke(self, function: FunctionInfo, input_text: str) -> None:
        assert self.services is not None
        self.admin_calls.append((function.name, input_text))
        try:
            await self.services.invoker.invoke(
                function, {str(function.trigger["name"]): input_text}, {"queueTrigger": input_text},
                reason=f"New queue message detected on '{function.trigger.get('queueName')}'.",
            )
        except FunctionInvocationError as exc:
            self.failures.append(exc)


class FakeWithoutAdmin(FakeExtension):
    """The same extension without the optional admin_invoke hook."""

    admin_invoke = None  # type: ignore[assignment]
