"""Replay-level tests: RuntimeState driving the real azure-functions-durable replay (in memory)."""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df
import pytest

from devhost.durable import history as h
from devhost.durable.replay import build_payload, execute
from tests.devhost.durable.unit.replay_driver import T0, Driver


def reverse(items: list) -> list:
    return list(reversed(items))


def test_payload_is_valid_json_with_played_flags() -> None:
    """build_payload joins stored text and new events; the SDK sees IsPlayed true/false accordingly."""
    es = h.execution_started(T0, "o", "i", "e", None)
    payload = json.loads(build_payload("i", None, ['{"EventType":12,"EventId":-1,"IsPlayed":true,'
                                                   '"Timestamp":"2024-01-01T00:00:00.0000000Z"}'],
                                       [es], None))
    assert [e["IsPlayed"] for e in payload["history"]] == [True, False]
    assert payload["upperSchemaVersion"] == 1 and payload["upperSchemaVersionNew"] == 2


def test_execute_splits_out_of_proc_data_on_user_exception() -> None:
    """An orchestrator exception yields the state after $OutOfProcData$ with its error text."""

    def orch(context):
        yield context.call_activity("a")
        raise RuntimeError("kaputt")

    handler = df.Orchestrator.create(orch)
    history = [h.orchestrator_started(T0), h.execution_started(T0, "o", "i", "e", None),
               h.task_scheduled(T0, 0, "a", None), h.orchestrator_completed(T0),
               h.orchestrator_started(T0), h.task_completed(T0, 0, "1")]
    result = execute(handler, build_payload("i", None, [], history, None))
    assert result.user_error and result.state is not None and result.state["error"] == "kaputt"
    assert execute(lambda _p: (_ for _ in ()).throw(TypeError("bad")), "{}").error == "bad"


@pytest.mark.parametrize("order", [list, reverse])
def test_fan_out_with_retries_matches_sdk_sequence_numbers(order) -> None:
    """task_all over retried and plain activities: retry timers and re-attempts get the ids the SDK
    expects, whatever order completions arrive in."""
    attempts: dict[int, int] = {}

    def flaky(n):
        attempts[n] = attempts.get(n, 0) + 1
        if attempts[n] < 3:
            raise RuntimeError(f"fail {n}")
        return n * 10

    def orch(context):
        opts = df.RetryOptions(1000, 3)
        tasks = [context.call_activity_with_retry("flaky", opts, i) for i in range(3)]
        tasks += [context.call_activity("plain", i) for i in range(3)]
        results = yield context.task_all(tasks)
        last = yield context.call_activity("plain", 100)
        return [results, last]

    driver = Driver(orch, {"flaky": flaky, "plain": lambda n: n + 1}, order)
    assert driver.run() == [[0, 10, 20, 1, 2, 3], 101]
    assert attempts == {0: 3, 1: 3, 2: 3}


def test_retry_exhaustion_inside_task_any_with_timer() -> None:
    """A retried activity raced against a timer: exhaustion surfaces after the extra retry timer."""

    def orch(context):
        opts = df.RetryOptions(1000, 2)
        work = context.call_activity_with_retry("boom", opts, None)
        timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
        winner = yield context.task_any([work, timer])
        if winner == timer:
            return "timer"
        timer.cancel()
        try:
            yield work
        except Exception as exc:
            return f"failed: {'exploded' in str(exc)}"
        return "ok"

    def boom(_):
        raise RuntimeError("exploded")

    driver = Driver(orch, {"boom": boom})
    assert driver.run() == "failed: True"
    types = [e["EventType"] for e in driver.history]
    assert types.count(h.TASK_SCHEDULED) == 2 and types.count(h.TIMER_CREATED) == 3


def test_sequential_waits_and_buffered_events() -> None:
    """Events raised before the waits are delivered (buffered by the SDK,
    docs/durable-extension-protocol.md#external-events)."""

    def orch(context):
        a = yield context.wait_for_external_event("A")
        b = yield context.wait_for_external_event("B")
        return [a, b]

    driver = Driver(orch, {})
    driver.raise_event("B", "bee")
    driver.raise_event("A", "ay")
    assert driver.run() == ["ay", "bee"]


def test_deterministic_new_uuid_and_time_across_replays() -> None:
    """new_uuid and current_utc_datetime are identical on every replay (stored timestamps)."""
    seen: list[tuple[str, str]] = []

    def orch(context):
        u = str(context.new_uuid())
        t = context.current_utc_datetime.isoformat()
        seen.append((u, t))
        yield context.call_activity("plain", 1)
        yield context.call_activity("plain", 2)
        return [u, t]

    driver = Driver(orch, {"plain": lambda n: n})
    u, t = driver.run()
    assert all(s == (u, t) for s in seen) and len(seen) == 3
