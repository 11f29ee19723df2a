"""The replay gate against live sources: a case waiting for approval on devhost is an open instance (the case
and its approval tier), read through the Durable HTTP API and from the task hub file. Unchanged code passes;
a temporary copy of the app with a renamed activity is refused with the first differing action named."""

from __future__ import annotations

import re
from collections import Counter

from devhost.durable.extension import TASK_HUB_FILE
from orchestrations.versions import CURRENT
from tests.e2e.case_harness import plain_event
from tests.fixtures.replay_gate import RENAME, RENAMED, app_copy, run_gate


def test_gate_replays_open_instances_from_the_http_api_and_the_task_hub(app, tmp_path):
    r = app.client.send(plain_event("gate-1", "account.change", requester="alice"))
    assert r.status_code == 202, r.text
    case_id = r.json()["instanceId"]
    app.client.wait_pending(case_id)
    taskhub = str(app.host.data_dir / TASK_HUB_FILE)

    # Both sources in one run of the gate (one interpreter start per app): each lists the open case and
    # its tier, so every instance line appears twice, once per source. The task hub file records the
    # version (host.json defaultVersion); the HTTP API does not, but the case's and the tier's custom
    # status stamp it (orchestrationVersion), so both sources name exactly that version.
    sources = ["--url", app.host.base_url, "--taskhub", taskhub]
    result = run_gate(*sources)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for tail in (f" {case_id} (case_workflow, Running)", f" {case_id}-approval-0 (approval_tier, Running)"):
        found = [line.split() for line in lines if line.endswith(tail)]
        assert len(found) == 2 and all(words[0] == "ok" for words in found), lines
        hub, http = found  # --taskhub is read before --url
        assert hub[1] == CURRENT and http[1] == CURRENT, lines
    summary = lines[-2].removeprefix("by version: ")  # then the "replay gate: … replayed" line
    assert dict(part.split(": ") for part in summary.split(", ")) == {
        label: str(n) for label, n in Counter(line.split()[1] for line in lines[:-2]).items()
    }, lines

    renamed = app_copy(tmp_path / "renamed", RENAME)
    result = run_gate("--app-dir", str(renamed), *sources)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [x for x in result.stdout.splitlines() if f" {case_id} " in x]
    assert len(broken) == 2, broken
    for line in broken:  # a case of the current version: its specialists run in assess_case (7.0)
        assert line.startswith("BREAKS")
        assert re.search(RENAMED, line) and "'assess_case_v2'" in line, line
