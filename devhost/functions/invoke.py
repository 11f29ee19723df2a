"""Run one function invocation the way the Python worker and the host do.

* sync functions in a ``ThreadPoolExecutor`` of ``PYTHON_THREADPOOL_THREAD_COUNT`` threads (default
  ``min(32, cpu + 4)``), async functions on the host's event loop (python-worker ``dispatcher.py``). Each
  function gets its own pool of that size (threads are created on demand), a per-function concurrency
  limit like the host's (``maxConcurrentActivityFunctions``, HTTP throttles): a flood of slow requests to
  one route can hold only that route's threads, never ``/api/health``'s or the activities';
* ``func.Context`` for a parameter named ``context`` that no binding claims (python-worker
  ``functions.py``); input bindings resolved by the extension owning their type; ``func.Out`` holders for
  output parameters, written by their extension after success only;
* host.json ``functionTimeout`` (default 30 min locally; ``-1`` unbounded): the invocation fails with
  ``Timeout value of hh:mm:ss was exceeded by function: Functions.<Name>`` (webjobs-sdk
  ``FunctionExecutor``); a sync function's thread cannot be killed and is abandoned;
* ``Executing 'Functions.<Name>' (Reason='...', Id=...)`` / ``Executed '...' (Succeeded|Failed, Id=...,
  Duration=Nms)`` on logger ``Function.<Name>`` (webjobs-sdk ``FunctionInstanceLogger``).

See docs/host-behaviour.md#logging-and-the-console, docs/host-behaviour.md#invocations.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from devhost.functions.context import (
    InvocationContext,
    Out,
    RetryContext,
    RpcException,
    TraceContext,
    new_trace_parent,
    user_traceback,
)
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError, InvocationResult
from devhost.functions.retry import RetryPolicy, policy_for
from devhost.logs import function_logger

if TYPE_CHECKING:
    from devhost.clock import Clock
    from devhost.config import HostConfig
    from devhost.extension import Extension

HOST_CALL_REASON = "This function was programmatically called via the host APIs."
DURABLE_TRIGGERS = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger"})
DEFAULT_TIMEOUT = timedelta(minutes=30)


def thread_pool_size(config: HostConfig) -> int:
    """``PYTHON_THREADPOOL_THREAD_COUNT`` when set and ≥ 1, else ``min(32, cpu + 4)``."""
    return config.thread_pool_threads or min(32, (os.cpu_count() or 1) + 4)


def format_timespan(value: timedelta) -> str:
    """.NET TimeSpan "c" format: ``[d.]hh:mm:ss[.fffffff]``."""
    total = value.total_seconds()
    days, rem = divmod(int(total), 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    frac = total - int(total)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if frac > 1e-7:
        text += f".{round(frac * 10_000_000):07d}"
    return f"{days}.{text}" if days else text


class FunctionInvoker:
    """The host's :class:`~devhost.functions.interfaces.Invoker`.

    ``owners`` maps a binding ``type`` to the extension owning it. Build it once per host; call
    :meth:`close` on shutdown (it does not wait for abandoned threads).
    """

    def __init__(self, config: HostConfig, clock: Clock, owners: Mapping[str, Extension]) -> None:
        self.config = config
        self.clock = clock
        self.owners = dict(owners)
        self.pool_size = thread_pool_size(config)
        self.pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()
        self.timeout = self._timeout(config)
        self.policies: dict[str, RetryPolicy | None] = {}
        self._closing = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @staticmethod
    def _timeout(config: HostConfig) -> timedelta | None:
        if "functionTimeout" not in config.host_json:
            return DEFAULT_TIMEOUT
        return config.function_timeout

    @property
    def in_flight(self) -> int:
        """Invocations running right now."""
        return self._in_flight

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no invocation is running (True) or ``timeout_s`` passed (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    def prepare(self, functions: Sequence[FunctionInfo]) -> None:
        """Parse every function's retry policy up front (ConfigError for a malformed one)."""
        for f in functions:
            self.policies[f.name] = policy_for(f.trigger_type, f.settings, self.config.host_json)

    def close(self) -> None:
        """Stop retrying and shut the thread pool down without waiting for abandoned threads."""
        self._closing = True
        with self._pools_lock:
            pools = list(self.pools.values())
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)

    def pool_for(self, function: FunctionInfo) -> ThreadPoolExecutor:
        """The thread pool of ``function`` (created on first use; threads named ``devhost-fn-<name>``)."""
        with self._pools_lock:
            pool = self.pools.get(function.name)
            if pool is None:
                pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix=f"devhost-fn-{function.name}")
                self.pools[function.name] = pool
            return pool

    async def invoke(
        self,
        function: FunctionInfo,
        args: Mapping[str, Any],
        trigger_metadata: Mapping[str, Any] | None = None,
        *,
        log: bool = True,
        reason: str | None = None,
        trigger_details: str | None = None,
        retry_context: RetryContext | None = None,
        trace_parent: str | None = None,
        invocation_id: str | None = None,
        check_return: Callable[[FunctionInfo, Any, Mapping[str, Any]], None] | None = None,
    ) -> InvocationResult:
        """See :class:`devhost.functions.interfaces.Invoker`. Extra keywords: ``reason`` for the
        Executing line (default: the host-API reason), ``trigger_details`` (``"K: v, K2: v2"``),
        ``retry_context``, ``trace_parent`` (incoming W3C header), ``invocation_id`` (default: a new
        GUID), ``check_return`` (called with the return value and set outputs inside the invocation;
        raising fails it, as the worker's output encoders do).

        A function with a retry policy (``@app.retry`` or host.json ``retry``; see
        :mod:`devhost.functions.retry`) is attempted again after a failure, each attempt with its own
        invocation id and log lines, waiting on the host clock in between; ``retry_context`` tells the
        function which attempt it is.

        Raises FunctionInvocationError (``cause`` = the user's exception, ``timed_out`` for a timeout);
        after retries, the last attempt's error.
        """
        policy = None if retry_context is not None else self.policies.get(function.name)
        attempt, last_error = 0, None
        while True:
            max_count = policy.max_retry_count if policy is not None else 0
            try:
                return await self._attempt(
                    function, args, trigger_metadata, log=log, reason=reason,
                    trigger_details=trigger_details, trace_parent=trace_parent,
                    invocation_id=invocation_id if attempt == 0 else None, check_return=check_return,
                    retry_context=retry_context or RetryContext(attempt, max_count, last_error),
                )
            except FunctionInvocationError as exc:
                if policy is None or self._closing or not policy.allows(attempt + 1):
                    if attempt:
                        function_logger(function.name).error(
                            "Function execution failed after '%d' retries.", attempt)
                    raise
                attempt += 1
                delay = policy.delay_before(attempt)
                function_logger(function.name).info(
                    "Waiting for `%s` before retrying function execution. Next attempt: '%d'. "
                    "Max retry count: '%d'.", format_timespan(delay), attempt, max_count)
                retry_context, last_error = None, RpcException.of(exc)
                await self.clock.sleep(delay.total_seconds())

    async def _attempt(
        self,
        function: FunctionInfo,
        args: Mapping[str, Any],
        trigger_metadata: Mapping[str, Any] | None,
        *,
        log: bool,
        reason: str | None,
        trigger_details: str | None,
        retry_context: RetryContext,
        trace_parent: str | None,
        invocation_id: str | None,
        check_return: Callable[[FunctionInfo, Any, Mapping[str, Any]], None] | None,
    ) -> InvocationResult:
        inv_id = invocation_id or str(uuid.uuid4())
        meta = dict(trigger_metadata or {})
        logger = function_logger(function.name)
        if log:
            logger.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name,
                        reason or HOST_CALL_REASON, inv_id)
            if trigger_details:
                logger.info("Trigger Details: %s", trigger_details)
        started = time.monotonic()
        self._enter()
        try:
            with self.clock.busy():
                result = await self._run(function, args, meta, inv_id, retry_context, trace_parent,
                                         check_return)
        except FunctionInvocationError as exc:
            ms = (time.monotonic() - started) * 1000
            if log:
                logger.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
                             function.name, inv_id, ms, _failure_text(exc))
            raise
        finally:
            self._leave()
        result.duration_ms = (time.monotonic() - started) * 1000
        if log:
            logger.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", function.name, inv_id,
                        result.duration_ms)
        return result

    # -- one invocation -------------------------------------------------------------------------------
    async def _run(
        self,
        function: FunctionInfo,
        args: Mapping[str, Any],
        meta: dict[str, Any],
        inv_id: str,
        retry_context: RetryContext,
        trace_parent: str | None,
        check_return: Callable[[FunctionInfo, Any, Mapping[str, Any]], None] | None,
    ) -> InvocationResult:
        kwargs: dict[str, Any] = dict(args)
        holders: dict[str, Out] = {}
        tls = threading.local()
        for binding in function.bindings:
            name = str(binding.get("name"))
            if binding is function.trigger or name == "$return" or name in kwargs:
                continue
            direction = str(binding.get("direction", "")).upper()
            if direction == "OUT":
                holders[name] = kwargs[name] = Out()
            elif direction == "IN":
                owner = self._owner(function, inv_id, binding)
                try:
                    kwargs[name] = await owner.resolve_input(function, binding, meta)
                except Exception as exc:
                    raise FunctionInvocationError(
                        function.name, inv_id, f"binding {name!r} ({binding['type']}): {exc}", exc
                    ) from exc
        if "context" in function.parameters and "context" not in kwargs:
            kwargs["context"] = InvocationContext(
                inv_id, function.name, str(self.config.app_dir),
                TraceContext(new_trace_parent(trace_parent)), retry_context, tls,
            )
        kwargs = {k: v for k, v in kwargs.items() if k in function.parameters}
        timeout = self.timeout.total_seconds() if self.timeout is not None else None
        try:
            value = await asyncio.wait_for(self._call(function, kwargs, inv_id, tls), timeout)
        except TimeoutError as exc:
            assert self.timeout is not None
            raise FunctionInvocationError(
                function.name, inv_id,
                f"Timeout value of {format_timespan(self.timeout)} was exceeded by function: "
                f"Functions.{function.name}",
                None, timed_out=True,
            ) from exc
        except Exception as exc:
            raise FunctionInvocationError(
                function.name, inv_id, f"{type(exc).__name__}: {exc}", exc
            ) from exc
        has_return = any(b.get("name") == "$return" for b in function.bindings)
        if value is not None and not has_return and function.trigger_type not in DURABLE_TRIGGERS:
            raise FunctionInvocationError(
                function.name, inv_id,
                f"function {function.name!r} without a $return binding returned a non-None value",
            )
        outputs = {name: h.get() for name, h in holders.items() if h.is_set}
        if check_return is not None:
            try:
                check_return(function, value, outputs)
            except Exception as exc:
                raise FunctionInvocationError(
                    function.name, inv_id, f"{type(exc).__name__}: {exc}", exc
                ) from exc
        await self._write_outputs(function, inv_id, value, outputs, meta)
        return InvocationResult(inv_id, value, outputs, 0.0)

    async def _call(self, function: FunctionInfo, kwargs: dict[str, Any], inv_id: str,
                    tls: threading.local) -> Any:
        if function.is_async:
            return await function.handler(**kwargs)

        def run() -> Any:
            tls.invocation_id = inv_id
            return function.handler(**kwargs)

        return await asyncio.get_running_loop().run_in_executor(self.pool_for(function), run)

    async def _write_outputs(self, function: FunctionInfo, inv_id: str, value: Any,
                             outputs: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        for binding in function.bindings_of("OUT"):
            if binding.get("type") == "http":
                continue  # the HTTP layer answers with it
            name = str(binding.get("name"))
            if name == "$return":
                if value is None:
                    continue
                out_value = value
            elif name in outputs:
                out_value = outputs[name]
            else:
                continue  # an Out left unset is skipped
            owner = self._owner(function, inv_id, binding)
            try:
                await owner.write_output(function, binding, out_value, meta)
            except Exception as exc:
                raise FunctionInvocationError(
                    function.name, inv_id, f"output binding {name!r} ({binding['type']}): {exc}", exc
                ) from exc

    def _owner(self, function: FunctionInfo, inv_id: str, binding: Mapping[str, Any]) -> Extension:
        owner = self.owners.get(str(binding.get("type")))
        if owner is None:
            raise FunctionInvocationError(
                function.name, inv_id,
                f"The binding type(s) '{binding.get('type')}' are not registered. Please ensure the type "
                "is correct and the binding extension is installed.",
            )
        return owner

    def _enter(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()


def _failure_text(exc: FunctionInvocationError) -> str:
    """``Result: Failure`` / ``Exception: ...`` / ``Stack: ...`` as the host logs a failed invocation."""
    lines = ["Result: Failure", f"Exception: {exc}"]
    if exc.cause is not None:
        lines.append(f"Stack: {user_traceback(exc.cause)}")
    return "\n".join(lines)
