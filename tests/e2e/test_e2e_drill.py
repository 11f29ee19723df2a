"""The reduced recovery drill (issue 10): ``bench/drill.py`` with 8 cases, 2 kill -9 of devhost and a 2 s
Azurite outage that starts with kill -9 of Azurite (its latest writes, ledger rows included, may be lost: the
downstream's Idempotency-Key keeps the effect single). Every case ends in its right state, every effect
once, no accepted decision lost."""

from __future__ import annotations

import pytest

from bench import drill

pytestmark = [pytest.mark.azurite, pytest.mark.slow, pytest.mark.subprocess]


def test_reduced_drill(tmp_path):
    args = drill.build_parser().parse_args(
        ["--cases", "8", "--kills", "2", "--azurite-stop", "2", "--azurite-kill", "--window", "5",
         "--seed", "3", "--timeout", "120", "--data-dir", str(tmp_path), "--quiet"]
    )
    report = drill.run(args)
    assert report["right_end_state"] == 8, report["wrong"]
    assert report["effects_exactly_once"], report
    assert report["decisions_lost"] == 0, report
    assert report["faults_hitting_cases_in_flight"] >= 1, report  # the faults did hit work in flight
    assert report["ok"]
