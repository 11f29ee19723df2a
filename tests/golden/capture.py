"""Capture golden histories from REAL runs of the app on devhost + Azurite (run by hand, commit the JSON).

    .venv/bin/python -m tests.golden.capture            # writes tests/golden/histories/*.json

Starts Azurite and a local downstream receiver, runs ``function_app.py`` on an in-process devhost with the
manual virtual clock, drives a few cases over HTTP (an automatic one, an approved one with its approval
tier, a quorum decided by two decisions sent together, an escalated-then-expired one), stops the host and
reads each instance's history from the SQLite task hub.
``tests/unit/orchestrations/test_golden_replay.py`` replays them against today's orchestrators in CI.
Re-capture only when an orchestrator change is intended to be incompatible with running instances (and
then version the orchestrator instead,
docs/durable-extension-protocol.md#continue-as-new-custom-status-ids-versions).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from devhost.durable import history as h
from devhost.durable.extension import TASK_HUB_FILE
from devhost.durable.sqlite_store import SqliteStore
from devhost.storage.azurite import AzuriteProcess
from devhost.testing import run_host
from tests.e2e.case_harness import REPO, CaseClient, app_settings, plain_event, principal, write_policy
from tests.fixtures.downstream import DownstreamServer
from tests.golden.golden_replay import GOLDEN_DIR

HUB = "CaseWorkflowHub"


class _Azurite:
    def __init__(self, endpoints: Any) -> None:
        self.connection_string = endpoints.connection_string
        self._n = 0

    def unique(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-golden-{self._n}"


def _drive(client: CaseClient, clock: Any) -> dict[str, tuple[str, str]]:
    """Run the scenarios; returns ``{scenario: (orchestrator, instance id)}``."""
    bob, dave = principal("bob", "approver"), principal("dave", "admin")
    runs: dict[str, tuple[str, str]] = {}

    low = client.send(plain_event("golden-low", "order.cancel", amount=20)).json()["instanceId"]
    client.wait_runtime(low, "Completed")
    runs["case_low_risk"] = ("case_workflow", low)

    approved = client.send(plain_event("golden-approved", "account.change")).json()["instanceId"]
    view = client.wait_pending(approved)
    assert client.decide(approved, bob).status_code == 202
    client.wait_runtime(approved, "Completed")
    runs["case_approved"] = ("case_workflow", approved)
    runs["approval_tier_approved"] = ("approval_tier", view["approvalInstanceId"])

    quorum = client.send(plain_event("golden-quorum", "payment.release", amount=50000)).json()["instanceId"]
    view = client.wait_pending(quorum)
    assert client.decide(quorum, bob).status_code == 202
    assert client.decide(quorum, dave).status_code == 202
    client.wait_runtime(quorum, "Completed")
    runs["case_quorum"] = ("case_workflow", quorum)
    runs["approval_tier_quorum"] = ("approval_tier", view["approvalInstanceId"])

    expired = client.send(plain_event("golden-expired", "account.change")).json()["instanceId"]
    client.wait_pending(expired, tier=0)
    clock.advance(24 * 3600 + 1)
    client.wait_pending(expired, tier=1)
    clock.advance(24 * 3600 + 1)
    client.wait_runtime(expired, "Completed")
    runs["case_expired"] = ("case_workflow", expired)
    return runs


def capture(out_dir: Path = GOLDEN_DIR) -> list[Path]:
    """Run everything and write one JSON file per scenario; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    azurite_proc = AzuriteProcess(location=None, ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = azurite_proc.start()
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, DownstreamServer() as downstream:
            tmp_path = Path(tmp)
            policy = write_policy(tmp_path / "policy.json", downstream.url)
            settings = app_settings(_Azurite(endpoints), policy, downstream.url)
            data_dir = tmp_path / "data"
            with run_host(REPO, data_dir=data_dir, clock="virtual-manual", settings=settings) as host:
                runs = _drive(CaseClient(host.base_url), host.clock)
            store = SqliteStore(data_dir / TASK_HUB_FILE, HUB)
            try:
                for scenario, (orchestrator, instance_id) in runs.items():
                    events = [h.public_event(e) for e in store.get_history(instance_id)]
                    document = {
                        "scenario": scenario,
                        "orchestrator": orchestrator,
                        "instance_id": instance_id,
                        "history": events,
                    }
                    path = out_dir / f"{scenario}.json"
                    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
                    written.append(path)
            finally:
                store.close()
    finally:
        azurite_proc.stop()
    return written


if __name__ == "__main__":
    for p in capture():
        print(p.relative_to(REPO))
    sys.exit(0)
