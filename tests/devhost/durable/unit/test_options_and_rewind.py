"""host.json durableTask options, the SDK speed-ups' fidelity and the pure rewind rewrite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dateutil.parser import parse as dateutil_parse

from devhost.durable import history as h
from devhost.durable.options import DurableOptions
from devhost.durable.rewind import rewind_history
from devhost.durable.sdk_speedups import fast_parse
from devhost.errors import ConfigError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_options_defaults_and_values() -> None:
    """hubName, concurrency limits and defaultVersion are read; defaults follow the extension."""
    opts = DurableOptions.from_mapping({}, {}, cpu_count=2)
    assert (opts.hub_name, opts.max_concurrent_activities, opts.default_version) == ("TestHubName", 20, None)
    opts = DurableOptions.from_mapping({"hubName": "MyHub", "maxConcurrentActivityFunctions": 3,
                                        "maxConcurrentOrchestratorFunctions": "4", "defaultVersion": "2.0"})
    assert (opts.hub_name, opts.max_concurrent_activities, opts.max_concurrent_orchestrators,
            opts.default_version) == ("MyHub", 3, 4, "2.0")


@pytest.mark.parametrize("bad", [{"hubName": "x"}, {"hubName": "has-dash"},
                                 {"maxConcurrentActivityFunctions": 0},
                                 {"maxConcurrentOrchestratorFunctions": "many"}])
def test_options_errors(bad: dict) -> None:
    """Invalid hub names and limits are configuration errors."""
    with pytest.raises(ConfigError):
        DurableOptions.from_mapping(bad)


@pytest.mark.parametrize("text", ["2024-01-01T00:00:01.1234567Z", "2024-01-01T00:00:01Z",
                                  "2030-12-31T23:59:59.9Z", "2024-01-01T00:00:01+02:00", "Jan 1 2024"])
def test_fast_parse_equals_dateutil(text: str) -> None:
    """The timestamp shortcut returns exactly what dateutil returns (value and tzinfo)."""
    assert repr(fast_parse(text)) == repr(dateutil_parse(text))


def test_rewind_drops_final_failures_and_exhausted_retry_timer() -> None:
    """Only the last failures go; an exhausted chain loses its extra timer; the failed tasks run again."""
    history = [
        h.orchestrator_started(T0), h.execution_started(T0, "o", "i", "e", None),
        h.task_scheduled(T0, 0, "ok", None), h.task_scheduled(T0, 1, "flaky", None),
        h.orchestrator_completed(T0), h.orchestrator_started(T0),
        h.task_completed(T0, 0, "1"), h.task_failed(T0, 1, "r1", None), h.timer_created(T0, 2, T0),
        h.timer_fired(T0, 2, T0), h.task_scheduled(T0, 3, "flaky", None), h.task_failed(T0, 3, "r2", None),
        h.timer_created(T0, 4, T0), h.timer_fired(T0, 4, T0),
        h.execution_completed(T0, 3, "failed"), h.orchestrator_completed(T0),
    ]
    rewritten, work = rewind_history(history, T0, {1, 3}, {3}, {1: 4, 3: 4})
    kept = [(e["EventType"], e.get("EventId"), e.get("TaskScheduledId"), e.get("TimerId")) for e in rewritten]
    assert (h.TASK_FAILED, -1, 1, None) in kept  # the earlier attempt's failure stays
    assert all(k[2] != 3 for k in kept if k[0] == h.TASK_FAILED)
    assert all(k[1] != 4 and k[3] != 4 for k in kept)
    assert all(k[0] != h.EXECUTION_COMPLETED for k in kept)
    assert [(a.task_id, a.name) for a in work.activities] == [(3, "flaky")]


def test_fast_parse_caches_devhost_timestamps() -> None:
    """Every episode replays the same timestamps: the second parse is the cached (immutable) datetime."""
    text = "2026-12-07T17:15:21.1234567Z"
    assert fast_parse(text) is fast_parse(text)
    assert fast_parse("2026-12-07 17:15:21") == dateutil_parse("2026-12-07 17:15:21")
