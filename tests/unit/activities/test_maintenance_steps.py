"""activities/maintenance_steps.py: the maintenance run sees every instance of the task hub, not only the
first page the SDK's ``get_status_by`` reads (it drops the ``x-ms-continuation-token`` header)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from activities import maintenance_steps
from shared.settings import AppSettings
from tests.fixtures.durable_client import RPC_BASE_URL as RPC
from tests.fixtures.durable_client import FakeDurableClient
from triggers import case_source

NOW = datetime(2030, 6, 1, tzinfo=UTC)
PAGE = 100  # the extension's page when asked for more than it gives


class TaskHub:
    """The Durable HTTP API's ``GET instances/`` over a fixed list: pages of ``PAGE`` items, each but the
    last with a continuation token, the last with ``"null"`` (as the extension answers)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert str(request.url).startswith(RPC + "instances/")
        statuses = request.url.params["runtimeStatus"].split(",")
        matching = [i for i in self.items if i["runtimeStatus"] in statuses]
        start = int(request.headers.get(case_source.CONTINUATION_HEADER) or 0)
        page = matching[start:start + min(PAGE, int(request.url.params["top"]))]
        more = start + len(page) < len(matching)
        token = str(start + len(page)) if more else "null"
        return httpx.Response(200, json=page, headers={case_source.CONTINUATION_HEADER: token})


def status(instance_id: str, name: str, runtime: str, updated: datetime, custom: Any = None) -> dict:
    return {"name": name, "instanceId": instance_id, "runtimeStatus": runtime, "customStatus": custom,
            "createdTime": updated.isoformat().replace("+00:00", "Z"),
            "lastUpdatedTime": updated.isoformat().replace("+00:00", "Z"), "output": None}


def waiting(case_id: str, remind_at: datetime) -> dict:
    pending = {"approvalId": f"{case_id}-approval-0", "remind_at": remind_at.isoformat()}
    return {"stage": "awaiting_approval", "pendingApproval": pending,
            "approvalInstanceId": f"{case_id}-approval-0"}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> TaskHub:
    """250 instances: 200 old completed cases, 40 waiting cases (the last 20 overdue), a terminated case
    whose approval tier still runs, all in an order that puts the interesting ones past the first page."""
    old = NOW - timedelta(days=400)
    items = [status(f"case-old-{n:03d}", "case_workflow", "Completed", old) for n in range(200)]
    for n in range(40):
        remind = NOW + timedelta(hours=1) if n < 20 else NOW - timedelta(hours=1)
        case_id = f"case-wait-{n:03d}"
        items.append(status(case_id, "case_workflow", "Running", NOW, waiting(case_id, remind)))
    items.append(status("case-gone", "case_workflow", "Terminated", NOW,
                        {"approvalInstanceId": "case-gone-approval-0"}))
    items.append(status("case-gone-approval-0", "approval_tier", "Running", NOW, {}))
    items += [status(f"case-new-{n}", "case_workflow", "Completed", NOW) for n in range(8)]
    hub = TaskHub(items)
    http = httpx.AsyncClient(transport=httpx.MockTransport(hub.handle))
    monkeypatch.setattr(case_source, "_client_for_loop", lambda: http)
    monkeypatch.setattr(AppSettings, "current", classmethod(lambda cls: AppSettings(retention_days=30)))
    return hub


def find_work(client: FakeDurableClient) -> dict[str, Any]:
    fn = maintenance_steps.find_maintenance_work._function.get_user_function()
    fn = getattr(fn, "__wrapped__", fn)
    return asyncio.run(fn({"now": NOW.isoformat()}, client))


def test_find_maintenance_work_reads_every_page(hub: TaskHub) -> None:
    """More than 100 instances: purges, reminders and the orphaned tier beyond the first page are found."""
    client = FakeDurableClient()
    work = find_work(client)
    assert len(hub.requests) == 3  # 250 instances in pages of 100
    assert work["purge"] == [f"case-old-{n:03d}" for n in range(200)]
    assert [r["case_instance_id"] for r in work["reminders"]] == [f"case-wait-{n:03d}" for n in range(20, 40)]
    assert [iid for iid, _ in client.terminated] == ["case-gone-approval-0"]  # and no get_status_by
    first = hub.requests[0].url.params
    assert first["showInput"] == "false"
    assert set(first["runtimeStatus"].split(",")) == {"Running", "Completed", "Failed", "Terminated"}
    assert json.loads(json.dumps(work)) == work  # JSON only in the orchestrator's history


def test_a_task_hub_that_cannot_be_listed_fails_the_activity(hub: TaskHub, monkeypatch) -> None:
    """An error answer raises (nothing terminated, reminded or purged from a partial listing)."""
    failing = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    monkeypatch.setattr(case_source, "_client_for_loop", lambda: failing)
    client = FakeDurableClient()
    with pytest.raises(case_source.CaseSourceError):
        find_work(client)
    assert client.terminated == []
