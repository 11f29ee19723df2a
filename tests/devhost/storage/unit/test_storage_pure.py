"""Pure pieces of the storage bindings: names, encodings, output values, binding expressions, options,
the schedule monitor's past-due rule."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.functions as func
import pytest

from devhost.errors import ConfigError
from devhost.storage.errors import BindingExpressionError, InvalidResourceNameError
from devhost.storage.expressions import render, trigger_data
from devhost.storage.names import decode_body, encode_body, poison_queue_name, storage_name
from devhost.storage.ncrontab import parse_schedule
from devhost.storage.queue_options import QueueOptions
from devhost.storage.queue_output import message_bodies
from devhost.storage.timer_status import ScheduleStatus, StatusStore, check_past_due

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_queue_names_are_lowercased_and_validated() -> None:
    """Upper case is folded; `a--b` and two-letter names are refused."""
    assert storage_name("Orders-In") == "orders-in"
    for bad in ("a--b", "ab", "-abc", "abc_d"):
        with pytest.raises(InvalidResourceNameError):
            storage_name(bad)


def test_poison_queue_name() -> None:
    """`<queue>-poison`, none for a poison queue or when too long."""
    assert poison_queue_name("q1") == "q1-poison"
    assert poison_queue_name("q1-poison") is None
    assert poison_queue_name("a" * 60) is None


def test_base64_round_trip_and_whitespace_tolerance() -> None:
    """base64 encoding round-trips UTF-8; whitespace inside base64 is tolerated like .NET."""
    wire = encode_body("héllo", "base64")
    assert "héllo".encode() == decode_body(wire[:4] + "\n" + wire[4:], "base64")
    assert decode_body("plain {x}", "none") == b"plain {x}"


def test_invalid_base64_raises_value_error() -> None:
    """`not base64!` cannot be decoded in base64 mode."""
    with pytest.raises(ValueError):
        decode_body("not base64!", "base64")


def test_output_values_become_messages_like_the_host() -> None:
    """Lists and JSON-array strings split; JSON objects re-serialised; QueueMessage as {id, body}."""
    assert message_bodies(["a", "b"]) == ["a", "b"]
    assert message_bodies('[1, "x"]') == ["1", "x"]
    assert json.loads(message_bodies('{"k":1}')[0]) == {"k": 1}
    assert json.loads(message_bodies(func.QueueMessage(body="hi"))[0]) == {"id": None, "body": "hi"}
    assert message_bodies(None) == []
    assert message_bodies(b"\x00") == [b"\x00"]


def test_trigger_data_includes_json_properties() -> None:
    """A JSON body's top-level properties join the metadata (metadata wins)."""
    data = trigger_data(
        {"Id": "m1", "QueueTrigger": '{"id": "case-7", "n": {"x": 2}}'}, '{"id": "case-7", "n": {"x": 2}}'
    )
    assert render("out/{id}/{n.x}/{Id}.json", data) == "out/case-7/2/m1.json"


def test_render_builtins_and_missing_names() -> None:
    """{DateTime} uses the host clock in UTC; {rand-guid} is a GUID; unknown names raise."""
    assert render("c/{DateTime}", {}, now=lambda: T0) == "c/2024-05-01T10-00-00Z"
    assert len(render("{rand-guid}", {})) == 36
    with pytest.raises(BindingExpressionError, match="No value for named parameter 'nope'"):
        render("c/{nope}", {})


def test_queue_options_defaults_and_host_json() -> None:
    """Development defaults (2 s max polling, 5 dequeues, base64); host.json values parsed."""
    d = QueueOptions.from_host_json({}, cpu_count=4)
    assert (
        d.batch_size,
        d.new_batch_threshold,
        d.max_polling_interval_s,
        d.visibility_timeout_s,
        d.max_dequeue_count,
        d.message_encoding,
    ) == (16, 32, 2.0, 0.0, 5, "base64")
    o = QueueOptions.from_host_json(
        {
            "batchSize": 4,
            "maxPollingInterval": "00:00:00.5",
            "visibilityTimeout": "00:00:01",
            "messageEncoding": "none",
        }
    )
    assert (o.batch_size, o.max_polling_interval_s, o.visibility_timeout_s, o.message_encoding) == (
        4,
        0.5,
        1.0,
        "none",
    )
    with pytest.raises(ConfigError):
        QueueOptions.from_host_json({"batchSize": 33})


def test_past_due_after_a_missed_occurrence(tmp_path: Path) -> None:
    """A stored Next in the past makes the start-up check past due; a fresh status is not."""
    schedule = parse_schedule("0 */5 * * * *", UTC)
    store = StatusStore(tmp_path, "Tick")
    due, status = check_past_due(store, schedule, T0)
    assert (False, T0 + timedelta(minutes=5)) == (due, status.next)
    due, _ = check_past_due(store, schedule, T0 + timedelta(minutes=12))
    assert due


def test_changed_schedule_is_recomputed_not_past_due(tmp_path: Path) -> None:
    """A status written for another schedule is recomputed from now when its expected time passed."""
    store = StatusStore(tmp_path, "Tick")
    store.write(ScheduleStatus(T0, T0 + timedelta(hours=1), T0))
    due, status = check_past_due(store, parse_schedule("0 */5 * * * *", UTC), T0 + timedelta(hours=2))
    assert (False, T0 + timedelta(hours=2, minutes=5)) == (due, status.next)
    assert json.loads((tmp_path / "Tick.json").read_text())["Last"] is None


def test_base64_encoding_matches_the_sdk_policy() -> None:
    """Our base64 wire text equals what TextBase64EncodePolicy would send."""
    assert base64.b64encode(b'{"a": 1}').decode() == encode_body('{"a": 1}', "base64")


def test_blob_trigger_pattern_captures_names() -> None:
    """`{name}.txt` captures the part before `.txt`, across folders; other extensions do not match."""
    from devhost.storage.blob_listener import path_pattern

    pattern = path_pattern("in/{name}.txt")
    match = pattern.match("in/2024/report.txt")
    assert match is not None and match.groupdict() == {"name": "2024/report"}
    assert pattern.match("in/report.csv") is None
