"""Helpers of the end-to-end tests: the app on devhost with Azurite, a test policy, HTTP with principals.

The real ``function_app.py`` runs on devhost (``devhost.testing.run_host`` in-process, or
``start_subprocess`` for crash tests) against the session Azurite (``tests/fixtures/azurite.py``) with
unique queue/container/table names per test. The test policy is the shipped one with business tools
switched to the ``webhook`` adapter pointing at a local downstream server (``tests/fixtures/
downstream.py``) and the GitHub API rebased onto that server, so the tests can assert exactly what reached
the downstream.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from devhost.testing import wait_for
from shared.identity import encode_principal
from shared.policy import DEFAULT_POLICY_PATH
from tests.fixtures.octokit_examples import TEST_SECRET

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_TOOLS = (
    "orders.cancel",
    "refunds.issue",
    "payments.release",
    "accounts.update",
    "access.review",
    "repository.governance",
    "releases.restore",
    "documents.file",
)


def write_policy(path: Path, downstream_url: str, **defaults: Any) -> Path:
    """The shipped policy with webhook tools aimed at ``downstream_url``; ``defaults`` patch ``defaults``."""
    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    for tool in WEBHOOK_TOOLS:
        doc["tools"][tool]["adapter"] = "webhook"
        doc["tools"][tool]["config"] = {"url": f"{downstream_url}/hooks/{tool}"}
    doc["defaults"]["retry"] = {"first_retry_interval_s": 1, "max_attempts": 3}
    for key, value in defaults.items():
        doc["defaults"][key] = value
    path.write_text(json.dumps(doc))
    return path


def app_settings(azurite: Any, policy_path: Path, downstream_url: str) -> dict[str, str]:
    """App settings for one test: its own queues, container and table in the shared Azurite."""
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "CASE_EVENTS_QUEUE": azurite.unique("events"),
        "CASE_NOTIFICATIONS_QUEUE": azurite.unique("notes"),
        "CASE_AUDIT_CONTAINER": azurite.unique("audit"),
        "CASE_LEDGER_TABLE": "ledger" + uuid.uuid4().hex[:10],
        "CASE_POLICY_PATH": str(policy_path),
        "CASE_MAINTENANCE_SCHEDULE": "0 0 0 1 1 *",
        "CASE_RETENTION_DAYS": "30",
        "GITHUB_WEBHOOK_SECRET": TEST_SECRET,
        "GITHUB_API_URL": downstream_url,
        "GITHUB_TOKEN": "test-token",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
    }


def principal(name: str, *roles: str) -> dict[str, str]:
    """App Service Authentication headers for ``name`` with ``roles``."""
    return encode_principal(name, list(roles))


def plain_event(event_id: str, type_: str, requester: str = "alice", **data: Any) -> dict[str, Any]:
    """A plain JSON business event body."""
    return {
        "id": event_id,
        "type": type_,
        "requester": requester,
        "subject": f"{type_}-{event_id}",
        "source": "e2e",
        "data": data,
    }


class CaseClient:
    """HTTP calls of the tests against one running app."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = httpx.Client(timeout=30)
        self.reader = principal("auditor", "auditor")

    def send(
        self, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> httpx.Response:
        content = raw if raw is not None else json.dumps(body).encode()
        merged = dict(headers or {})
        if not any(k.lower() == "content-type" for k in merged):
            merged["Content-Type"] = "application/json"
        return self.http.post(f"{self.base}/api/events", content=content, headers=merged)

    def case(self, case_id: str) -> dict[str, Any]:
        r = self.http.get(f"{self.base}/api/cases/{case_id}", headers=self.reader)
        assert r.status_code == 200, r.text
        return r.json()

    def decide(
        self, case_id: str, who: dict[str, str], decision: str = "approve", reason: str = "ok"
    ) -> httpx.Response:
        return self.http.post(
            f"{self.base}/api/cases/{case_id}/decision",
            headers=who,
            json={"decision": decision, "reason": reason},
        )

    def approvals(self, who: dict[str, str] | None = None) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.base}/api/approvals", headers=who or self.reader)
        assert r.status_code == 200, r.text
        return r.json()["approvals"]

    def wait_stage(self, case_id: str, *stages: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll the case until its stage is one of ``stages``; returns the case view."""

        def ready() -> dict[str, Any] | None:
            r = self.http.get(f"{self.base}/api/cases/{case_id}", headers=self.reader)
            if r.status_code != 200:
                return None
            view = r.json()
            return view if view["stage"] in stages else None

        return wait_for(ready, timeout_s=timeout_s, interval_s=0.05, message=f"case {case_id} in {stages}")

    def wait_runtime(self, case_id: str, *statuses: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll until the case's runtime status is one of ``statuses``."""

        def ready() -> dict[str, Any] | None:
            r = self.http.get(f"{self.base}/api/cases/{case_id}", headers=self.reader)
            view = r.json() if r.status_code == 200 else None
            return view if view and view["runtimeStatus"] in statuses else None

        return wait_for(ready, timeout_s=timeout_s, interval_s=0.05, message=f"case {case_id} {statuses}")

    def wait_pending(self, case_id: str, tier: int = 0, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll until the case awaits approval in ``tier`` and its tier instance is running."""

        def ready() -> dict[str, Any] | None:
            view = self.case(case_id)
            pending = view.get("pendingApproval")
            if view["stage"] != "awaiting_approval" or not pending or pending["tier"] != tier:
                return None
            return view if view.get("approvalProgress") is not None else None

        return wait_for(
            ready, timeout_s=timeout_s, interval_s=0.05, message=f"case {case_id} tier {tier} pending"
        )
