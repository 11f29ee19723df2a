"""The function seams: what the host knows about one function and how it is invoked.

:class:`FunctionInfo` is one indexed function (the loader builds it from ``app.get_functions()``);
:class:`Invoker` runs one invocation the way the Python worker does (:class:`devhost.functions.invoke.
FunctionInvoker` is the implementation); :class:`InvocationResult` and :class:`FunctionInvocationError`
are its two outcomes. Extensions (durable, storage) and the HTTP layer depend on these, never on the
invoker's module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from devhost.errors import DevhostError


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


class FunctionInvocationError(DevhostError):
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
        with a retry policy (``@app.retry`` / host.json ``retry``) is retried here
        (see devhost.functions.retry).

        Raises FunctionInvocationError when the function raises or times out.
        """
        ...
