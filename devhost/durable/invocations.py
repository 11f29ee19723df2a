"""How task hub work becomes function invocations: which functions serve which names, one activity
work item → its TaskCompleted / TaskFailed event, one orchestration episode (:func:`run_episode`).

Used by :mod:`devhost.durable.dispatcher` (the loop) and :mod:`devhost.durable.extension`; the orchestrator
test simulator and the golden-history replay call :func:`run_episode` too, so an episode (and with it
determinism, retries, timers) has one definition. Activity inputs
and results pass through the SDK's ``ActivityTriggerConverter`` as the Python worker does
(docs/durable-extension-protocol.md#activities).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.durable import history as h
from devhost.durable.actions import HTTP_ACTIVITY
from devhost.durable.models import ActivityWorkItem, InboxMessage
from devhost.durable.outcome import EpisodeOutcome
from devhost.durable.replay import ReplayResult, build_payload, execute, payload_input, played_text
from devhost.durable.runtime_state import RuntimeState
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError, Invoker
from devhost.logs import function_logger


def index_functions(
    functions: Sequence[FunctionInfo], trigger: str, alias_key: str
) -> dict[str, FunctionInfo]:
    """Functions with trigger type ``trigger`` by name, plus their ``orchestration=``/``activity=`` alias
    (the extension registers the alias, the SDK calls by function name:
    docs/durable-extension-protocol.md#registration)."""
    found: dict[str, FunctionInfo] = {}
    for fn in functions:
        if fn.trigger_type != trigger:
            continue
        found[fn.name] = fn
        alias = fn.trigger.get(alias_key)
        if alias:
            found.setdefault(str(alias), fn)
    return found


def run_episode(
    state: RuntimeState,
    batch: Sequence[InboxMessage],
    now: datetime,
    handler: Callable[[str], Any] | None,
    *,
    history_texts: Sequence[str] | None = None,
    log_as: str | None = None,
) -> tuple[EpisodeOutcome, ReplayResult]:
    """One orchestration episode at ``now`` consuming ``batch`` (chosen by ``state.select_batch``):
    :meth:`RuntimeState.begin`, then, when user code must run, the SDK ``handler`` (the orchestrator
    function's ``get_user_function()``) over the payload of the played history plus the new events, then
    :meth:`RuntimeState.finish` (new work, timers, retries, the non-determinism check). Returns the outcome
    to commit and the handler's result (its ``state`` is the SDK's OrchestratorState, None when no user
    code ran). ``handler`` None: the orchestrator does not exist (the instance fails, as on Azure).
    ``history_texts`` are the stored JSON texts of ``state.history`` when the caller has them (saves
    re-encoding); ``log_as`` logs Executing/Executed lines under that function name. Raises only for a
    fault of the host's own code (the handler's failures are in the result)."""
    episode = state.begin(list(batch), now)
    result = ReplayResult(None)
    if episode.needs_user_code:
        if handler is None:
            result = ReplayResult(None, f"The function '{state.name}' doesn't exist, is disabled, or is "
                                        "not an orchestrator function.")
        else:
            if episode.base_history is not None:
                played = [played_text(e) for e in episode.base_history]
            elif history_texts is not None:
                played = list(history_texts)
            else:
                played = [played_text(e) for e in state.history]
            parent = state.parent
            payload = build_payload(
                state.instance.instance_id,
                parent["OrchestrationInstance"]["InstanceId"] if parent else None,
                played,
                episode.new_events,
                payload_input((state.started or {}).get("Input")),
            )
            fn = handler
            result = (logged_episode(log_as, state.instance.instance_id, lambda: execute(fn, payload))
                      if log_as else execute(fn, payload))
    return state.finish(episode, result.state, result.error), result


async def run_activity(fn: FunctionInfo | None, item: ActivityWorkItem, invoker: Invoker,
                       now: Callable[[], datetime], known: Sequence[str]) -> dict[str, Any]:
    """Invoke activity ``fn`` for ``item`` and build TaskCompleted / TaskFailed
    (docs/durable-extension-protocol.md#activities). ``fn`` None:
    TaskFailed naming the ``known`` activity names. A failure of the function (it raised, timed out, or
    returned something JSON cannot encode) is TaskFailed; an error of the host itself (e.g. the input
    cannot be decoded) propagates."""
    if fn is None and item.name == HTTP_ACTIVITY:
        reason = ("Durable HTTP (context.call_http) is made by the task hub dispatcher "
                  "(devhost/durable/http_task.py), not as an activity.")
        return h.task_failed(now(), item.task_id, reason, json.dumps({"Message": reason}))
    if fn is None:
        reason = (
            f"The function '{item.name}' doesn't exist, is disabled, or is not an activity function. "
            f"Additional info: known activities are {list(known) or 'none'}."
        )
        return h.task_failed(now(), item.task_id, reason, json.dumps({"Message": reason}))
    value = ActivityTriggerConverter.decode(
        meta.Datum(type="string", value=item.input if item.input is not None else "null"),
        trigger_metadata=None,
    )
    try:
        result = await invoker.invoke(fn, {str(fn.trigger["name"]): value}, {"instanceId": item.instance_id})
        text = ActivityTriggerConverter.encode(result.return_value, expected_type=None).value
        return h.task_completed(now(), item.task_id, text)
    except FunctionInvocationError as exc:
        cause = exc.cause
        message = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        stack = "".join(traceback.format_exception(cause)) if cause is not None else ""
    except Exception as exc:  # result not JSON-serialisable
        message, stack = f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))
    reason = f"Activity function '{item.name}' failed:  {message}"
    details = json.dumps({"Message": f" {message}", "StackTrace": stack})
    return h.task_failed(now(), item.task_id, reason, details)


def host_task_failed(now: datetime, item: ActivityWorkItem, what: str, exc: BaseException) -> dict[str, Any]:
    """TaskFailed for ``item`` when devhost itself failed around it (``what``: e.g. "could not run the
    activity"); the reason names the error as the SDK shows it to the orchestrator."""
    message = f"{type(exc).__name__}: {exc}"
    reason = f"Activity function '{item.name}' failed: devhost {what}: {message}"
    details = json.dumps({"Message": f" devhost {what}: {message}",
                          "StackTrace": "".join(traceback.format_exception(exc))})
    return h.task_failed(now, item.task_id, reason, details)


def logged_episode(name: str, instance_id: str, run: Callable[[], ReplayResult]) -> ReplayResult:
    """Run one orchestrator episode between the Functions host's Executing/Executed lines (category
    ``Function.<Name>``, as for any invocation; the durable extension adds the instance id)."""
    log = function_logger(name)
    if not log.isEnabledFor(logging.INFO):
        return run()
    inv_id = str(uuid.uuid4())
    log.info("Executing 'Functions.%s' (Reason='(null)', Id=%s) for instance %s", name, inv_id, instance_id)
    started = time.monotonic()
    result = run()
    failed = result.error is not None or result.user_error or bool((result.state or {}).get("error"))
    status = "Failed" if failed else "Succeeded"
    log.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", name, status, inv_id,
             (time.monotonic() - started) * 1000)
    return result
