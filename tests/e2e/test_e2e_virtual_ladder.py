"""Issue 13 (3): under ``--clock virtual`` the whole approval escalation ladder of the shipped policy (two
tiers of 24 h each, then expiry) passes in a blink with the app's 5-minute maintenance timer enabled: the
clock jumps straight to each tier deadline, and the timer whose occurrences it jumped over runs once, past
due, instead of ~576 times."""

from __future__ import annotations

import logging
import re
import time

import pytest

from devhost.testing import run_host
from shared.settings import DEFAULT_MAINTENANCE_SCHEDULE
from tests.e2e.case_harness import REPO, CaseClient, app_settings, plain_event, write_policy

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def timer_runs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Reasons of the maintenance timer's Executing lines so far."""
    runs = []
    for record in caplog.records:
        text = record.getMessage()
        if record.name == "Function.maintenance_timer" and text.startswith("Executing"):
            match = re.search(r"Reason='([^']*)'", text)
            runs.append(match.group(1) if match else text)
    return runs


def test_escalation_ladder_passes_with_every_timer_enabled(azurite, downstream, tmp_path, caplog):
    """An unanswered privileged case escalates (24 h) and expires (24 h more) in well under 2 s of wall
    time; over those 48 virtual hours the maintenance timer runs once per jump, past due."""
    caplog.set_level(logging.INFO)
    settings = app_settings(azurite, write_policy(tmp_path / "policy.json", downstream.url), downstream.url)
    settings["CASE_MAINTENANCE_SCHEDULE"] = DEFAULT_MAINTENANCE_SCHEDULE  # the shipped 5-minute timer
    with run_host(REPO, data_dir=tmp_path / "data", clock="virtual", settings=settings) as host:
        client = CaseClient(host.base_url)
        # Measured from the event on: the clock does not wait for this test to see tier 0 pending (it may
        # already have jumped to the tier's deadline), so the figure includes the case's first steps.
        before, virtual_start, started = len(timer_runs(caplog)), host.clock.now(), time.monotonic()
        case_id = client.send(plain_event("ladder-1", "account.change")).json()["instanceId"]
        view = client.wait_stage(case_id, "expired", "failed", timeout_s=60)
        wall_s = time.monotonic() - started
        virtual_h = (host.clock.now() - virtual_start).total_seconds() / 3600
        during = timer_runs(caplog)[before:]
    print(f"\nescalation ladder: {virtual_h:.1f} virtual hours in {wall_s:.2f} s of wall time; "
          f"maintenance timer ran {len(during)} time(s) meanwhile ({sum('past due' in r for r in during)} "
          "past due)")
    assert view["stage"] == "expired", view
    assert [entry["stage"] for entry in view["timeline"]][-2:] == ["awaiting_approval", "expired"]
    assert view["outcome"]["reason"].startswith("no decision: every approval tier (2)"), view["outcome"]
    assert virtual_h >= 48
    # One past-due run per jump of the clock over the timer (two tier deadlines); a few plain runs when the
    # clock steps to a single occurrence while the case's first steps leave the host idle for a moment.
    # Without the coalescing it would be one run per 5-minute occurrence: 576 over 48 h.
    past_due = [r for r in during if "past due" in r]
    assert 1 <= len(past_due) <= 3, during
    assert len(during) <= 20, during
