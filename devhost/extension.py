"""The seams between devhost's core and its extensions (durable task hub, storage bindings).

The core (``config``, ``loader``, ``invoke``, ``server``) knows HTTP triggers only. Everything else plugs
in as an :class:`Extension`, the way binding extensions plug into the Functions host
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-register): an extension owns a set
of binding ``type`` names, may start listeners (trigger pollers, dispatchers), may serve routes
(``/runtime/webhooks/durabletask/...``), resolves input bindings and writes output bindings.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from devhost.clock import Clock
    from devhost.config import HostConfig


@dataclass(frozen=True)
class FunctionInfo:
    """One indexed function of the app, as ``app.get_functions()`` describes it.

    ``bindings`` are the binding dicts of ``Function.get_function_json()`` (``type``, ``direction``,
    ``name``, and the binding's own keys such as ``route``, ``queueName``, ``schedule``). ``trigger`` is
    the one binding whose ``type`` ends in ``Trigger``. ``handler`` is ``get_user_function()``: for an
    orchestrator the SDK's sync ``handle(context)`` wrapper, for a durable-client function the SDK's
    async middleware.
    """

    name: str
    trigger: Mapping[str, Any]
    bindings: Sequence[Mapping[str, Any]]
    handler: Callable[..., Any]
    is_async: bool
    parameters: Sequence[str]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def trigger_type(self) -> str:
        """The trigger binding's ``type`` (e.g. ``httpTrigger``, ``activityTrigger``)."""
        return str(self.trigger["type"])

    def bindings_of(self, direction: str) -> list[Mapping[str, Any]]:
        """Non-trigger bindings with ``direction`` ``"IN"`` or ``"OUT"`` (case-insensitive)."""
        d = direction.upper()
        return [
            b for b in self.bindings if b is not self.trigger and str(b.get("direction", "")).upper() == d
        ]


@dataclass
class InvocationResult:
    """What one successful invocation produced.

    ``return_value`` is what the function returned (``$return``); ``outputs`` maps each named output
    binding that the function set through ``func.Out`` to its value. Extension-owned outputs have
    already been written by the time the caller sees this.
    """

    invocation_id: str
    return_value: Any
    outputs: dict[str, Any]
    duration_ms: float


class FunctionInvocationError(Exception):
    """The user function raised, timed out or broke a binding contract.

    ``cause`` is the original exception (None for a timeout); ``timed_out`` tells a functionTimeout.
    The message is what the host logs ("Result: Failure Exception: ...").
    """

    def __init__(
        self,
        function_name: str,
        invocation_id: str,
        message: str,
        cause: BaseException | None = None,
        *,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.function_name = function_name
        self.invocation_id = invocation_id
        self.cause = cause
        self.timed_out = timed_out


class Invoker(Protocol):
    """Runs one function invocation the way the Python worker does (thread pool or event loop)."""

    async def invoke(
        self,
        function: FunctionInfo,
        args: Mapping[str, Any],
        trigger_metadata: Mapping[str, Any] | None = None,
        *,
        log: bool = True,
        reason: str | None = None,
        trigger_details: str | None = None,
        retry_context: Any = None,
        trace_parent: str | None = None,
        invocation_id: str | None = None,
        check_return: Callable[[FunctionInfo, Any, Mapping[str, Any]], None] | None = None,
    ) -> InvocationResult:
        """Call ``function`` with ``args`` (parameter name → value, the trigger's value included).

        The invoker adds ``func.Context`` for a parameter named ``context`` unless ``args`` has it, input
        bindings resolved by their extension, and ``func.Out`` holders for output bindings; after success
        it writes extension-owned outputs (``trigger_metadata`` feeds binding expressions such as
        ``{id}``). It holds ``clock.busy()`` throughout, enforces host.json ``functionTimeout`` and logs
        Executing/Executed lines unless ``log=False``.

        Optional keywords: ``reason`` for the Executing line (default: the host-API reason),
        ``trigger_details`` (``"K: v, K2: v2"`` line), ``retry_context`` (a ``func.RetryContext``; given →
        no retry loop), ``trace_parent`` (incoming W3C header), ``invocation_id`` (default: a new GUID),
        ``check_return(function, return_value, outputs)`` raising to fail the invocation. A function
        with a retry policy (``@app.retry`` / host.json ``retry``) is retried here (see devhost.retry).

        Raises FunctionInvocationError when the function raises or times out.
        """
        ...


@dataclass
class HostServices:
    """What the core hands every extension at start: shared, long-lived, built once."""

    config: HostConfig
    clock: Clock
    functions: Sequence[FunctionInfo]
    invoker: Invoker
    base_url: str  # e.g. "http://127.0.0.1:7071" (no trailing slash)
    logger: logging.Logger


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
