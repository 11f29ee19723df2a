"""Concrete ``func.Context``, ``TraceContext``, ``RetryContext`` and ``func.Out`` objects.

``azure.functions`` only declares these as abstract classes; the Python worker supplies the concrete ones
(``azure_functions_worker/bindings/context.py``, ``bindings/out.py``). devhost builds them the same way:
``invocation_id`` is the GUID of the Executing/Executed log lines, ``function_directory`` is the app root
(v2 apps), ``thread_local_storage`` is a ``threading.local`` whose ``invocation_id`` is set on the thread
running a sync function.
"""

from __future__ import annotations

import os
import threading
import traceback
from typing import Any

import azure.functions as func
from azure.functions import _abc


class TraceContext(_abc.TraceContext):
    """W3C trace context: ``trace_parent`` (``00-<32 hex>-<16 hex>-<flags>``), ``trace_state``,
    ``attributes``."""

    def __init__(self, trace_parent: str, trace_state: str = "", attributes: dict[str, str] | None = None):
        self._parent, self._state, self._attributes = trace_parent, trace_state, dict(attributes or {})

    @property
    def trace_parent(self) -> str:
        """The W3C ``traceparent`` header value (``00-<trace id>-<span id>-<flags>``)."""
        return self._parent

    @property
    def trace_state(self) -> str:
        """The W3C ``tracestate`` header value (may be empty)."""
        return self._state

    @property
    def attributes(self) -> dict[str, str]:
        """Extra trace attributes (name → value)."""
        return self._attributes


class RpcException(_abc.RpcException):
    """The previous attempt's failure as ``retry_context.exception`` shows it (``source``,
    ``stack_trace``, ``message``)."""

    def __init__(self, source: str, stack_trace: str, message: str) -> None:
        self._source, self._stack, self._message = source, stack_trace, message

    @classmethod
    def of(cls, error: BaseException) -> RpcException:
        """The worker's view of ``error``: its cause's module as source, user traceback, message."""
        cause = getattr(error, "cause", None) or error
        stack = user_traceback(cause) if cause.__traceback__ is not None else ""
        return cls(type(cause).__module__, stack, str(error))

    @property
    def source(self) -> str:
        """Where the exception came from (the raising module's name)."""
        return self._source

    @property
    def stack_trace(self) -> str:
        """The user-code part of the traceback, as text."""
        return self._stack

    @property
    def message(self) -> str:
        """The exception's message."""
        return self._message


class RetryContext(_abc.RetryContext):
    """``retry_count`` (0 on the first attempt), ``max_retry_count``, ``exception`` (None on attempt 0)."""

    def __init__(self, retry_count: int = 0, max_retry_count: int = 0, exception: Any = None):
        self._count, self._max, self._exception = retry_count, max_retry_count, exception

    @property
    def retry_count(self) -> int:
        """This attempt's number of retries so far (0 on the first attempt)."""
        return self._count

    @property
    def max_retry_count(self) -> int:
        """The retry policy's ``max_retry_count`` (0 without a policy)."""
        return self._max

    @property
    def exception(self) -> Any:
        """The previous attempt's :class:`RpcException`, or None on the first attempt."""
        return self._exception


class InvocationContext(func.Context):
    """The ``context`` argument of one invocation."""

    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        function_directory: str,
        trace_context: TraceContext,
        retry_context: RetryContext,
        thread_local_storage: threading.local,
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = trace_context
        self._retry_context = retry_context
        self._tls = thread_local_storage

    @property
    def invocation_id(self) -> str:
        """This invocation's id (a GUID string)."""
        return self._invocation_id

    @property
    def function_name(self) -> str:
        """The function's name as indexed (``<name>`` of ``Functions.<name>`` log lines)."""
        return self._function_name

    @property
    def function_directory(self) -> str:
        """The app's directory (where ``function_app.py`` lives), as a string."""
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        """The invocation's W3C trace context."""
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        """Which attempt this is under the function's retry policy."""
        return self._retry_context

    @property
    def thread_local_storage(self) -> Any:
        """A ``threading.local`` holding ``invocation_id`` for the function's thread."""
        return self._tls


class Out(func.Out[Any]):
    """Holder for an output binding value; ``is_set`` tells whether the function called ``set``."""

    def __init__(self) -> None:
        self._value: Any = None
        self.is_set = False

    def set(self, val: Any) -> None:
        """Set the output binding's value (written by its extension after a successful invocation)."""
        self._value = val
        self.is_set = True

    def get(self) -> Any:
        """The value set so far (None before :meth:`set`)."""
        return self._value


def user_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` without the leading devhost / asyncio / importlib frames, so
    it starts where user code starts (as the worker reports ``Stack:``)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and _is_plumbing(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def _is_plumbing(filename: str) -> bool:
    return (
        filename.startswith(_DEVHOST_DIR)
        or filename.startswith("<frozen importlib")
        or any(part in filename for part in ("/asyncio/", "/concurrent/futures/"))
    )


_DEVHOST_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the devhost package


def new_trace_parent(incoming: str | None = None) -> str:
    """A W3C ``traceparent`` for the invocation: same trace id as ``incoming`` when it is valid."""
    trace_id = os.urandom(16).hex()
    if incoming:
        parts = incoming.strip().split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            trace_id = parts[1].lower()
    return f"00-{trace_id}-{os.urandom(8).hex()}-00"
