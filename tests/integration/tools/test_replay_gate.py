"""The replay gate on the golden histories (what CI runs before a deployment could): it passes on the code in
this tree, and names the first differing action when an activity is renamed or the fan-out reordered (edits
made in a temporary copy of the app, never in the repository). The Durable HTTP API's lossy history form is
rebuilt faithfully enough to give the same verdicts."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from devhost.durable.status_payload import history_events
from orchestrations.versions import CURRENT, ONE_ASSESSMENT, major
from tests.fixtures.replay_gate import RENAME, RENAMED, REORDER, app_copy, run_gate
from tests.golden.golden_replay import GOLDEN_DIR
from tools.history_sources import from_file, from_status_history
from tools.replay_gate import GateResult, mark_retries, version_summary

GOLDENS = sorted(str(p) for p in GOLDEN_DIR.glob("*.json"))


def _recorded_version(golden: str) -> str:
    """The version label the gate prints for ``golden``: ``ExecutionStarted.Version`` (``""`` as ``"1"``)."""
    history = json.loads(Path(golden).read_text())["history"]
    return next(e for e in history if e["EventType"] == 0)["Version"] or "1"


def _as_status_file(golden: str, target, custom_status: object = None) -> str:
    """Save ``golden`` as the Durable HTTP API would answer for it (showHistory + showHistoryOutput)."""
    document = json.loads(Path(golden).read_text())
    status = {
        "name": document["orchestrator"],
        "instanceId": document["instance_id"],
        "runtimeStatus": "Completed",
        "customStatus": custom_status,
        "historyEvents": history_events(document["history"], show_input=True, show_history_output=True),
    }
    target.write_text(json.dumps(status))
    return str(target)


@pytest.fixture(scope="module")
def status_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("status")
    return [_as_status_file(g, folder / f"status-{i}.json") for i, g in enumerate(GOLDENS)]


def test_gate_passes_on_the_golden_histories_with_unchanged_code(status_files):
    assert len(GOLDENS) >= 2
    result = run_gate(*GOLDENS, *status_files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{2 * len(GOLDENS)} instance(s) replayed, 0 would break" in result.stdout
    # the status form has no version: each is named with every version that replays it, its own among them
    labels = [line.split()[1] for line in result.stdout.splitlines()[: 2 * len(GOLDENS)]]
    for golden, label in zip(GOLDENS, labels[len(GOLDENS) :], strict=True):
        assert _recorded_version(golden) in label.split("|"), (golden, label)
    summary = result.stdout.splitlines()[2 * len(GOLDENS)].removeprefix("by version: ")
    assert dict(part.split(": ") for part in summary.split(", ")) == {
        k: str(n) for k, n in Counter(labels).items()
    }


def test_each_line_names_the_recorded_version_and_the_summary_counts_them():
    """Golden files record ``ExecutionStarted.Version``; they cover every version from 1 to the current."""
    result = run_gate(*GOLDENS)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    recorded = [_recorded_version(g) for g in GOLDENS]
    assert [line.split()[1] for line in lines[: len(GOLDENS)]] == recorded
    counts = Counter(recorded)
    assert set(counts) == {"1", *(f"{n}.0" for n in range(2, major(CURRENT) + 1))}
    in_order = sorted(counts, key=float)
    assert lines[len(GOLDENS)] == "by version: " + ", ".join(f"{v}: {counts[v]}" for v in in_order)


def test_a_version_stamped_in_the_custom_status_names_it_and_a_wrong_stamp_breaks(tmp_path):
    """The HTTP API does not report ``ExecutionStarted.Version``; the case's custom status stamps it
    (``orchestrationVersion``), and the gate replays with that version alone: exact, and failing closed
    when the stamp is wrong (a version-1 history replayed as the current version schedules otherwise)."""
    v1 = next(g for g in GOLDENS if Path(g).name.startswith("v1_case_low_risk"))
    current = next(g for g in GOLDENS if Path(g).name == "case_low_risk.json")
    stamped = _as_status_file(current, tmp_path / "current.json", {"orchestrationVersion": CURRENT})
    as_text = _as_status_file(v1, tmp_path / "v1.json", json.dumps({"orchestrationVersion": ""}))
    result = run_gate(stamped, as_text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines()[:2]] == [CURRENT, "1"]
    wrong = _as_status_file(v1, tmp_path / "wrong.json", {"orchestrationVersion": CURRENT})
    result = run_gate(wrong)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"BREAKS {CURRENT} "), result.stdout


def test_gate_names_the_renamed_activity(tmp_path, status_files):
    """Every case breaks at its renamed specialist activity. A status file without a version stamp that no
    version replays is reported with the difference of the first version that got furthest: for a
    7.0 history (never unstamped in a live source: the stamp predates 7.0) that is 3.0's, scheduling
    ``assess_policy`` where the history has ``assess_case``."""
    app = app_copy(tmp_path / "app", RENAME)
    result = run_gate("--app-dir", str(app), *GOLDENS, *status_files)
    assert result.returncode == 1, result.stdout + result.stderr
    breaking = [line for line in result.stdout.splitlines() if line.startswith("BREAKS")]
    case_lines = [line for line in breaking if "(case_workflow" in line]
    assert case_lines and len(case_lines) == len(breaking)  # approval tiers are unaffected
    unstamped_v7 = "#1: history has TaskScheduled 'assess_case', today's code schedules activity "
    unstamped_v7 += "'assess_policy'"
    for line in case_lines:
        assert re.search(RENAMED, line) or (line.split()[1] == "?" and unstamped_v7 in line), line
    assert any("'assess_case_v2'" in line for line in case_lines)  # the current version's goldens too


def _golden_major(name: str, kind: str) -> int:
    """The major orchestration version of a golden file of ``kind`` (``case_``) by its name: ``v7_case_*``
    is 7, the current ``case_*`` is :data:`CURRENT`'s; 0 for another kind."""
    if name.startswith(kind):
        return major(CURRENT)
    prefix, _, rest = name.partition("_")
    return int(prefix[1:]) if prefix[:1] == "v" and rest.startswith(kind) else 0


def test_gate_names_the_first_reordered_activity(tmp_path):
    """Golden files keep the sequence numbers, so a reordered fan-out is seen. (The HTTP API's form of these
    histories has one timestamp for every event, devhost's virtual clock, so the order inside a batch is
    unknown there: the gate takes the code's order, see tools/history_sources.py.) From orchestration
    version 7.0 the order is in ``assess_case``'s input, which replay does not compare: the case reads the
    recorded results by place, refuses results naming other specialists than it asks there, and closes as
    failed, so its next action (``notify`` instead of ``decide_policy``) differs from the history."""
    app = app_copy(tmp_path / "app", REORDER)
    result = run_gate("--app-dir", str(app), *GOLDENS)
    assert result.returncode == 1
    case_lines = [line for line in result.stdout.splitlines() if "(case_workflow" in line]
    assert case_lines and all(line.startswith("BREAKS") for line in case_lines)
    one = [line for line in case_lines if major(line.split()[1]) >= ONE_ASSESSMENT]
    assert len(one) == len([g for g in GOLDENS if _golden_major(Path(g).name, "case_") >= ONE_ASSESSMENT])
    for line in case_lines:  # #1 from orchestration version 3.0 (no load_policy before classify)
        recorded, scheduled = ("decide_policy", "notify") if line in one else ("assess_policy", "assess_risk")
        expected = f"history has TaskScheduled '{recorded}', today's code schedules activity '{scheduled}'"
        assert re.search("#[12]: " + expected, line), line


def test_status_history_rebuild_keeps_schedule_order_and_results():
    golden = json.loads(Path(GOLDENS[0]).read_text())
    original = [e for e in golden["history"] if e["EventType"] in (4, 7, 10)]
    rebuilt = from_status_history(history_events(golden["history"], show_history_output=True), "x")
    again = [e for e in rebuilt if e["EventType"] in (4, 7, 10)]
    assert [(e["EventId"], e["EventType"], e.get("Name")) for e in again] == [
        (e["EventId"], e["EventType"], e.get("Name")) for e in original
    ]
    completions = {e["TaskScheduledId"]: e.get("Result") for e in rebuilt if e["EventType"] == 5}
    recorded = {e["TaskScheduledId"]: e.get("Result") for e in golden["history"] if e["EventType"] == 5}
    assert {k: json.loads(v) for k, v in completions.items()} == {
        k: json.loads(v) for k, v in recorded.items()
    }


def test_retries_without_markers_fold_into_one_action():
    history = [
        {"EventType": 12, "EventId": -1, "Timestamp": "2026-01-01T00:00:00Z"},
        {"EventType": 0, "EventId": -1, "Name": "o", "Input": None, "Timestamp": "2026-01-01T00:00:00Z"},
        {"EventType": 4, "EventId": 0, "Name": "a", "Timestamp": "2026-01-01T00:00:00Z"},
        {"EventType": 13, "EventId": -1},
        {"EventType": 12, "EventId": -1, "Timestamp": "2026-01-01T00:00:01Z"},
        {"EventType": 6, "EventId": -1, "TaskScheduledId": 0},
        {"EventType": 10, "EventId": 1, "FireAt": "2026-01-01T00:00:02Z"},
        {"EventType": 13, "EventId": -1},
        {"EventType": 12, "EventId": -1, "Timestamp": "2026-01-01T00:00:02Z"},
        {"EventType": 11, "EventId": -1, "TimerId": 1},
        {"EventType": 4, "EventId": 2, "Name": "a", "Timestamp": "2026-01-01T00:00:02Z"},
        {"EventType": 13, "EventId": -1},
    ]
    marked = mark_retries(history)
    assert marked[2]["_RetryOptions"] == {} and marked[6]["_RetryOf"] == 0 and marked[10]["_RetryOf"] == 0


def test_a_file_that_is_no_history_is_a_source_error(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    result = run_gate(str(bad))
    assert result.returncode == 2 and "neither a golden history" in result.stderr
    assert from_file(GOLDENS[0]).name in {"case_workflow", "approval_tier"}


def test_version_summary_orders_versions_numerically_and_counts_unknown_and_ambiguous_ones():
    def result(*versions: str) -> GateResult:
        return GateResult("i", "case_workflow", None, breaks=False, versions=versions)

    results = [result("10.0"), result("2.0"), result(""), result(), result("3.0", "4.0"), result("2.0")]
    assert [r.version_label for r in results[2:5]] == ["1", "?", "3.0|4.0"]
    assert version_summary(results) == "by version: 1: 1, 2.0: 2, 3.0|4.0: 1, 10.0: 1, ?: 1"
    assert version_summary([]) == "by version: none"
