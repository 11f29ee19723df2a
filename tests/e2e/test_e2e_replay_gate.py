"""The replay gate against live sources: a case waiting for approval on devhost is an open instance (the case
and its approval tier), read through the Durable HTTP API and from the task hub file. Unchanged code passes;
a temporary copy of the app with a renamed activity is refused with the first differing action named."""

from __future__ import annotations

from devhost.durable.extension import TASK_HUB_FILE
from tests.e2e.case_harness import plain_event
from tests.fixtures.replay_gate import RENAME, app_copy, run_gate


def test_gate_replays_open_instances_from_the_http_api_and_the_task_hub(app, tmp_path):
    r = app.client.send(plain_event("gate-1", "account.change", requester="alice"))
    assert r.status_code == 202, r.text
    case_id = r.json()["instanceId"]
    app.client.wait_pending(case_id)
    taskhub = str(app.host.data_dir / TASK_HUB_FILE)

    # Both sources in one run of the gate (one interpreter start per app): each lists the open case and
    # its tier, so every instance line appears twice, once per source.
    sources = ["--url", app.host.base_url, "--taskhub", taskhub]
    result = run_gate(*sources)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for head in (f"ok     {case_id} (case_workflow, Running)",
                 f"ok     {case_id}-approval-0 (approval_tier, Running)"):
        assert sum(line.startswith(head) for line in lines) == 2, lines

    renamed = app_copy(tmp_path / "renamed", RENAME)
    result = run_gate("--app-dir", str(renamed), *sources)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [x for x in result.stdout.splitlines() if f" {case_id} " in x]
    assert len(broken) == 2, broken
    for line in broken:
        assert line.startswith("BREAKS")
        assert (
            "history has TaskScheduled 'assess_risk', today's code schedules activity 'assess_risk_v2'"
            in line
        )
