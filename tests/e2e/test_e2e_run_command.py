"""The ``make run`` command line (``python -m devhost start --app-dir . --demo``) on the repository's own
function_app.py, as a subprocess (ephemeral port, temporary data dir, the session Azurite instead of the
default loopback one): it prints the app's function list the way ``func start`` does, then the demo loads
its sample events and prints where each case is."""

from __future__ import annotations

import pytest

from devhost.testing import start_subprocess, wait_for
from tests.e2e.case_harness import REPO, app_settings, write_policy

pytestmark = [pytest.mark.azurite, pytest.mark.slow, pytest.mark.subprocess]


def test_make_run_command_lists_functions_and_runs_the_demo(azurite, downstream, tmp_path):
    """HTTP functions with methods and URL, other functions with their trigger type; the demo's cases."""
    settings = app_settings(azurite, write_policy(tmp_path / "policy.json", downstream.url), downstream.url)
    settings["DEVHOST_DEMO"] = "scripts.demo:run"
    with start_subprocess(REPO, data_dir=tmp_path / "data", env=settings, extra_args=["--demo"]) as proc:
        base = proc.wait_ready(60)
        out = proc.stdout_text()
        assert "Functions:" in out
        for line in (f"ingest_event_http: [POST] {base}/api/events",
                     f"decide_case: [POST] {base}/api/cases/{{id}}/decision",
                     f"list_approvals: [GET] {base}/api/approvals",
                     "ingest_event_queue: queueTrigger", "maintenance_timer: timerTrigger",
                     "case_workflow: orchestrationTrigger", "apply_action: activityTrigger"):
            assert f"\t{line}" in out, line
        wait_for(lambda: "Try it" in proc.stdout_text(), 60, 0.2, "demo finished")
        demo = proc.stdout_text().split("Demo summary", 1)[1]
        assert demo.count("  case-") == 5, demo
        assert "awaiting_approval" in demo and "completed" in demo
        assert proc.terminate() == 0
