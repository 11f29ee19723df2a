"""The seam between devhost's core and its extensions (durable task hub, storage bindings).

The core (``config``, ``functions/``, ``http/``) knows HTTP triggers only. Everything else plugs
in as an :class:`Extension`, the way binding extensions plug into the Functions host
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-register): an extension owns a set
of binding ``type`` names, may start listeners (trigger pollers, dispatchers), may serve routes
(``/runtime/webhooks/durabletask/...``), resolves input bindings and writes output bindings.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from devhost.functions.interfaces import FunctionInfo, Invoker

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from devhost.clock import Clock
    from devhost.config import HostConfig


@dataclass
class HostServices:
    """What the core hands every extension at start: shared, long-lived, built once."""

    config: HostConfig
    clock: Clock
    functions: Sequence[FunctionInfo]
    invoker: Invoker
    base_url: str  # e.g. "http://127.0.0.1:7071" (no trailing slash)
    logger: logging.Logger
    asgi_app: Any = None  # the host's ASGI app (what its HTTP server serves), for in-process calls


class Extension(Protocol):
    """A binding extension. Lifecycle: ``routes()`` read once → ``start(services)`` → ``stop(timeout)``.

    Optional method (looked up with ``getattr``, so not part of the protocol)::

        async def admin_invoke(self, function: FunctionInfo, input_text: str) -> None

    used by ``POST /admin/functions/{name}`` for a function whose trigger the extension owns: schedule
    one invocation with ``input_text`` as the trigger value and return (the host answers 202). Raise
    ValueError to answer 400 with the message. Without it the host invokes the function itself with
    the raw string as the trigger argument. And::

        async def stop_triggers(self, timeout_s: float) -> None

    called at shutdown *before* the HTTP server stops: stop starting invocations on one's own (timers,
    queue pollers) and let the running ones finish, so none of them calls the app's endpoints after they
    are gone. ``stop`` still follows, after the server.
    """

    name: str
    binding_types: frozenset[str]  # e.g. {"orchestrationTrigger", "activityTrigger", "durableClient"}

    def routes(self) -> Sequence[BaseRoute]:
        """Starlette routes served beside the HTTP triggers (matched before them)."""
        ...

    async def start(self, services: HostServices) -> None:
        """Open stores and start listeners for the functions whose trigger type it owns."""
        ...

    async def stop(self, timeout_s: float) -> None:
        """Stop listening, let in-flight work finish for at most ``timeout_s`` seconds, close stores."""
        ...

    async def resolve_input(
        self, function: FunctionInfo, binding: Mapping[str, Any], trigger_metadata: Mapping[str, Any]
    ) -> Any:
        """Value for an input binding of one of its types (e.g. the durableClient binding JSON string)."""
        ...

    async def write_output(
        self,
        function: FunctionInfo,
        binding: Mapping[str, Any],
        value: Any,
        trigger_metadata: Mapping[str, Any],
    ) -> None:
        """Persist an output binding's value after a successful invocation (queue message, blob)."""
        ...


ExtensionFactory = Callable[[], Extension]
Starter = Callable[[], Awaitable[None]]
