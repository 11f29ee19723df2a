"""A func.FunctionApp built from a df.Blueprint runs unchanged: started by its HTTP starter through the real
DurableOrchestrationClient, followed through the check-status URL it returns (plain HTTP)."""

from __future__ import annotations

from pathlib import Path

import httpx

from devhost.testing import run_host, wait_for

APP = Path(__file__).resolve().parents[3] / "apps" / "durable_blueprint_app"


def test_blueprint_app_via_http_starter(tmp_path: Path) -> None:
    """POST /api/start → 202 with management URLs; the status URL reports Completed with the output."""
    with run_host(APP, data_dir=tmp_path, clock="system") as host, \
            httpx.Client(base_url=host.base_url, timeout=10) as http:
        r = http.post("/api/start", params={"name": "bob"})
        assert r.status_code == 202, r.text
        status_url = r.json()["statusQueryGetUri"]
        assert r.headers["Location"] == status_url

        def done() -> dict | None:
            body = http.get(status_url).json()
            return body if body["runtimeStatus"] == "Completed" else None

        body = wait_for(done, 15, message="orchestration completed")
        assert body["output"] == "BOB!!"
        assert body["name"] == "greet"
