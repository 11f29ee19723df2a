"""Pure shaping of status API JSON: history event conversion, times, JSON parsing, CLI timeline lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from devhost.durable.cli import describe_event
from devhost.durable.status_payload import format_time, history_events, parse_json_text

HISTORY = [
    {"EventType": 12, "EventId": -1, "IsPlayed": True, "Timestamp": "t0"},
    {"EventType": 0, "EventId": -1, "IsPlayed": True, "Timestamp": "t0", "Name": "orch", "Version": "1",
     "Input": '"in"', "OrchestrationInstance": {"InstanceId": "i"}, "ParentInstance": None, "Tags": None},
    {"EventType": 7, "EventId": 0, "IsPlayed": True, "Timestamp": "t1", "Name": "child", "Version": "",
     "InstanceId": "i:0", "Input": "1"},
    {"EventType": 10, "EventId": 1, "IsPlayed": True, "Timestamp": "t1", "FireAt": "f1"},
    {"EventType": 4, "EventId": 2, "IsPlayed": True, "Timestamp": "t1", "Name": "pending_act", "Input": "2"},
    {"EventType": 13, "EventId": -1, "IsPlayed": True, "Timestamp": "t1"},
    {"EventType": 9, "EventId": -1, "IsPlayed": False, "Timestamp": "t2", "TaskScheduledId": 0,
     "Reason": "Orchestrator function 'child' failed: no", "Details": "d"},
    {"EventType": 11, "EventId": -1, "IsPlayed": False, "Timestamp": "t3", "TimerId": 1, "FireAt": "f1"},
    {"EventType": 15, "EventId": -1, "IsPlayed": False, "Timestamp": "t3", "Name": "Go", "Input": '{"a": 1}'},
]


def test_history_events_merge_rename_and_drop() -> None:
    """Scheduled events merge into completions; pending ones stay; played/ids/orchestrator events go."""
    events = history_events(HISTORY)
    assert [e["EventType"] for e in events] == [
        "ExecutionStarted", "TimerCreated", "TaskScheduled", "SubOrchestrationInstanceFailed", "TimerFired",
        "EventRaised"]
    started = events[0]
    assert started == {"EventType": "ExecutionStarted", "Timestamp": "t0", "Input": '"in"',
                       "FunctionName": "orch"}
    failed = events[3]
    assert failed["FunctionName"] == "child" and failed["ScheduledTime"] == "t1" and failed["Input"] == "1"
    assert "TaskScheduledId" not in failed
    assert events[4] == {"EventType": "TimerFired", "Timestamp": "t3", "FireAt": "f1"}
    assert all("EventId" not in e and "IsPlayed" not in e for e in events)


def test_history_events_without_input() -> None:
    assert all("Input" not in e for e in history_events(HISTORY, show_input=False))


def test_format_time_is_dotnet_sortable_utc() -> None:
    assert format_time(datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    plus_two = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(plus_two) == "2024-01-02T03:04:05Z"
    assert format_time(None) is None


def test_parse_json_text_falls_back_to_raw_string() -> None:
    assert parse_json_text('{"a": [1]}') == {"a": [1]}
    failure = "Orchestrator function 'x' failed: boom"
    assert parse_json_text(failure) == failure
    assert parse_json_text(None) is None


def test_describe_event_lines() -> None:
    """The CLI timeline names the function, the outcome and the data."""
    line = describe_event({"EventType": "TaskCompleted", "FunctionName": "say_hello", "Result": "Hi",
                           "Timestamp": "2024-01-01T00:00:01.1234567Z"})
    assert line == '2024-01-01 00:00:01.123  TaskCompleted  say_hello  -> "Hi"'
    line = describe_event({"EventType": "TimerCreated", "FireAt": "2024-01-04T00:00:00Z", "Timestamp": "x"})
    assert line.endswith("TimerCreated  fires at 2024-01-04T00:00:00Z")
    line = describe_event({"EventType": "EventRaised", "Name": "Go", "Input": "1", "Timestamp": "x"})
    assert line.endswith("EventRaised  Go  input 1")
