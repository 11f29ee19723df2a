"""The SLO report over real cases: statuses from the devhost task hub, audit trails from Azurite."""

from __future__ import annotations

import json

import pytest

from devhost.durable.extension import TASK_HUB_FILE
from tests.e2e.case_harness import plain_event, principal
from tools import report

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def test_report_from_task_hub_and_audit_trails(app, monkeypatch, capsys):
    low = app.client.send(plain_event("slo-low", "order.cancel", amount=20)).json()["instanceId"]
    approved = app.client.send(plain_event("slo-ok", "account.change")).json()["instanceId"]
    app.client.wait_pending(approved)
    assert app.client.decide(approved, principal("bob", "approver"), "approve", "ok").status_code == 202
    for case_id in (low, approved):
        app.client.wait_runtime(case_id, "Completed")
    for name, value in app.settings.items():
        monkeypatch.setenv(name, value)

    taskhub = str(app.host.data_dir / TASK_HUB_FILE)
    assert report.main(["--taskhub", taskhub, "--json"]) == 0
    figures = {f["name"]: f for f in json.loads(capsys.readouterr().out)["figures"]}
    assert figures["success rate"]["value"] == 1.0 and not figures["success rate"]["breach"]
    assert figures["success rate"]["detail"].startswith("2 succeeded of 2 closed")
    assert figures["time to decision p50"]["detail"] == "1 decisions"
    assert figures["approval reject rate"]["value"] == 0.0
    assert figures["side-effect failure rate"]["value"] == 0.0
