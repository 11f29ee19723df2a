"""The SLO report's figures on a seeded data set (statuses + audit trails with known answers), thresholds
from the shipped policy's ``slo:`` section, breaches marked; and the report over a devhost task hub."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.policy import load_policy
from tools import report

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def at(hours: float, base: datetime = NOW - DAY) -> str:
    return (base + timedelta(hours=hours)).isoformat()


def case(
    cid: str,
    runtime: str,
    start: float,
    stages: list[tuple[str, float]],
    *,
    base: datetime = NOW - DAY,
    audit: list[dict[str, Any]] | None = None,
    updated: float | None = None,
    **status: Any,
) -> dict[str, Any]:
    timeline = [{"stage": s, "at": at(h, base)} for s, h in stages]
    last = updated if updated is not None else stages[-1][1]
    return {
        "name": "case_workflow",
        "instanceId": cid,
        "runtimeStatus": runtime,
        "createdTime": at(start, base),
        "lastUpdatedTime": at(last, base),
        "customStatus": {"stage": stages[-1][0], "timeline": timeline, **status},
        "audit": audit or [],
    }


def requested(h: float, base: datetime = NOW - DAY) -> dict[str, Any]:
    return {"kind": "approval_requested", "at": at(h, base), "data": {"tier": 0}}


def decided(h: float, decision: str, base: datetime = NOW - DAY) -> dict[str, Any]:
    return {"kind": "decision", "at": at(h, base), "data": {"decision": decision, "at": at(h, base)}}


SEEDED = [
    # window (created in the 24 h before NOW)
    case(
        "c1",
        "Completed",
        0,
        [("received", 0), ("classified", 0), ("ready_to_apply", 0), ("completed", 1 / 60)],
        judgment={"source": "agent", "cost": 0.02},
    ),
    case(
        "c2",
        "Completed",
        1,
        [
            ("received", 1),
            ("classified", 1),
            ("awaiting_approval", 1),
            ("ready_to_apply", 2),
            ("completed", 2),
        ],
        audit=[requested(1), decided(2, "approve")],
        judgment={"source": "agent", "cost": 0.03},
    ),
    case(
        "c3",
        "Completed",
        3,
        [("received", 3), ("classified", 3), ("awaiting_approval", 3), ("rejected", 3.5)],
        audit=[requested(3), decided(3.5, "reject")],
        judgment={"source": "rules-fallback", "cost": 0.01},
    ),
    case(
        "c4",
        "Completed",
        4,
        [("received", 4), ("classified", 4), ("awaiting_approval", 4), ("expired", 10)],
        audit=[requested(4)],
    ),
    case(
        "c5",
        "Completed",
        5,
        [("received", 5), ("classified", 5), ("ready_to_apply", 5), ("failed", 5 + 10 / 60)],
    ),
    case("c6", "Running", 6, [("received", 6), ("classified", 6)]),  # stuck: unchanged for 18 h
    case(
        "c7",
        "Running",
        7,
        [("received", 7), ("classified", 7), ("awaiting_approval", 7)],
        pendingApproval={"expires_at": (NOW + DAY).isoformat()},
        audit=[requested(7)],
    ),
    case("c8", "Failed", 8, [("received", 8), ("classified", 8 + 5 / 60)]),
    # the previous window: one approval
    case(
        "c9",
        "Completed",
        2,
        [
            ("received", 2),
            ("classified", 2),
            ("awaiting_approval", 2),
            ("ready_to_apply", 3),
            ("completed", 3),
        ],
        base=NOW - 2 * DAY,
        audit=[requested(2, NOW - 2 * DAY), decided(3, "approve", NOW - 2 * DAY)],
    ),
    # the same window a week earlier: cost 0.02 per successful case
    case(
        "c10",
        "Completed",
        2,
        [("received", 2), ("classified", 2), ("completed", 2)],
        base=NOW - DAY - timedelta(days=7),
        judgment={"source": "agent", "cost": 0.02},
    ),
]

EXPECTED = {  # name: (value, breach)
    "success rate": (4 / 7, True),
    "case duration p95": (21600.0, False),
    "time to decision p50": (1800.0, False),
    "time to decision p95": (3600.0, False),
    "approval reject rate": (0.5, False),
    "approval reject rate shift": (0.5, True),
    "expiry rate": (1 / 3, True),
    "side-effect failure rate": (1 / 3, True),
    "judgment fallback rate": (1 / 8, True),
    "cost per successful case": (0.015, False),
    "cost per successful case, week over week": (-0.25, False),
    "stuck cases": (1.0, False),
}


@pytest.fixture
def seeded(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(SEEDED))
    return path


def test_figures_and_breaches_on_the_seeded_data_set(seeded, capsys):
    assert report.main(["--cases", str(seeded), "--now", NOW.isoformat(), "--json"]) == 0
    figures = {f["name"]: f for f in json.loads(capsys.readouterr().out)["figures"]}
    assert set(figures) == set(EXPECTED)
    for name, (value, breach) in EXPECTED.items():
        assert figures[name]["value"] == pytest.approx(value), name
        assert figures[name]["breach"] is breach, name
    targets = load_policy(None).slo
    assert figures["success rate"]["threshold"] == targets.success_rate_min == 0.98
    assert figures["cost per successful case, week over week"]["threshold"] == 0.2


def test_text_report_marks_breaches_and_can_fail(seeded, capsys):
    code = report.main(["--cases", str(seeded), "--now", NOW.isoformat(), "--fail-on-breach"])
    out = capsys.readouterr().out
    assert code == 1
    assert "5 breach(es)" in out
    line = next(x for x in out.splitlines() if "success rate" in x and "shift" not in x)
    assert line.startswith("BREACH") and "57.1%" in line and ">= 98.0%" in line
