"""Polling and start helpers for the Durable HTTP API tests (plain HTTP against a running devhost)."""

from __future__ import annotations

from typing import Any

import httpx

API = "/runtime/webhooks/durabletask"


def wait_status(http: httpx.Client, instance_id: str, statuses: set[str], timeout_s: float = 15.0
                ) -> dict[str, Any]:
    """Poll GET /instances/{id} until runtimeStatus is in ``statuses``; returns the status JSON."""
    from devhost.testing import wait_for

    def check() -> dict[str, Any] | None:
        r = http.get(f"{API}/instances/{instance_id}")
        if r.status_code in (200, 202, 500) and r.json()["runtimeStatus"] in statuses:
            return r.json()
        return None

    return wait_for(check, timeout_s, 0.02, f"instance {instance_id} in {sorted(statuses)}")


def start(http: httpx.Client, name: str, instance_id: str | None = None, body: Any = None,
          **params: str) -> str:
    """Start ``name`` through the HTTP API; returns the instance id (asserts 202)."""
    path = f"{API}/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    r = http.post(path, params=params, json=body) if body is not None else http.post(path, params=params)
    assert r.status_code == 202, r.text
    return r.json()["id"]
