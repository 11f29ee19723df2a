"""Durable entities on devhost over real HTTP (issue 17): the fixture app tests/apps/durable_entity_app
(Microsoft's v1 samples/counter_entity ported to v2, plus an Account entity and a transfer orchestration).

Signals go through the app's own client function, i.e. the SDK's ``client.signal_entity`` posting to the
Durable HTTP API as on Azure; reads through ``client.read_entity_state`` and the HTTP API itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import HostThread, run_host, start_subprocess, wait_for

APP = Path(__file__).resolve().parents[3] / "apps" / "durable_entity_app"
API = "/runtime/webhooks/durabletask"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    with run_host(APP, data_dir=tmp_path_factory.mktemp("entities")) as running:
        yield running


def signal_all(base: str, requests: list[tuple[str, str, str, Any]]) -> None:
    """POST every (entity, key, op, input) to the app's signal function at once; each answers 202."""
    async def go() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            calls = [client.post(f"/api/entities/{e}/{k}/{op}", content=b"" if v is None else json.dumps(v))
                     for e, k, op, v in requests]
            return [r.status_code for r in await asyncio.gather(*calls)]
    assert asyncio.run(go()) == [202] * len(requests)


def state_via_sdk(base: str, entity: str, key: str) -> Any:
    """The state as ``client.read_entity_state`` returns it (None when the entity does not exist)."""
    r = httpx.get(f"{base}/api/entities/{entity}/{key}", timeout=10)
    assert r.status_code in (200, 404), r.text
    return r.json()["state"] if r.status_code == 200 else None


def run_orchestration(base: str, name: str, payload: Any) -> dict[str, Any]:
    r = httpx.post(f"{base}/api/orchestrators/{name}", json=payload, timeout=10)
    assert r.status_code == 202, r.text
    url = r.json()["statusQueryGetUri"]
    return wait_for(lambda: (s := httpx.get(url, timeout=10).json())["runtimeStatus"] in
                    ("Completed", "Failed") and s, 20, interval_s=0.02, message=f"{name} finished")


def test_counter_incremented_100_times_concurrently_ends_at_100(host: HostThread) -> None:
    """100 concurrent ``client.signal_entity(Counter, "add", 1)``: every operation runs, one at a time."""
    signal_all(host.base_url, [("Counter", "c100", "add", 1)] * 100)
    wait_for(lambda: state_via_sdk(host.base_url, "Counter", "c100") == 100, 20, interval_s=0.02,
             message="counter at 100")
    r = httpx.get(f"{host.base_url}{API}/entities/counter/c100", timeout=10)
    assert (r.status_code, r.json()) == (200, 100)
    status = httpx.get(f"{host.base_url}{API}/instances/@counter@c100", timeout=10).json()
    assert (status["name"], status["runtimeStatus"]) == ("counter", "Running")


def test_orchestrator_call_entity_gets_the_result(host: HostThread) -> None:
    """The sample orchestration: signal ``add`` 3, then ``call_entity(get)`` returns 3."""
    done = run_orchestration(host.base_url, "counter_orchestration", "sample")
    assert (done["runtimeStatus"], done["output"]) == ("Completed", 3)


def test_concurrent_transfers_keep_the_sum(host: HostThread) -> None:
    """Transfers back and forth between two accounts: each operation is atomic, the sum stays 200; a
    withdrawal beyond the balance surfaces in the orchestrator as the entity's exception."""
    signal_all(host.base_url, [("Account", "a", "deposit", 100), ("Account", "b", "deposit", 100)])
    wait_for(lambda: [state_via_sdk(host.base_url, "Account", k) for k in "ab"] == [100, 100], 20,
             interval_s=0.02, message="accounts funded")

    async def transfers() -> list[str]:
        async with httpx.AsyncClient(base_url=host.base_url, timeout=30) as client:
            orders = [{"source": "a", "target": "b", "amount": 30} if i % 2 else
                      {"source": "b", "target": "a", "amount": 20} for i in range(16)]
            orders.append({"source": "a", "target": "b", "amount": 1000})
            started = await asyncio.gather(*(client.post("/api/orchestrators/transfer", json=o)
                                             for o in orders))
            outputs = []
            for r in started:
                url = r.json()["statusQueryGetUri"]
                while (s := (await client.get(url)).json())["runtimeStatus"] != "Completed":
                    await asyncio.sleep(0.02)
                outputs.append(s["output"])
            return outputs

    outputs = asyncio.run(transfers())
    assert outputs[-1].startswith("refused: insufficient funds") and outputs.count("moved") >= 8
    balances = [state_via_sdk(host.base_url, "Account", k) for k in "ab"]
    assert sum(balances) == 200 and min(balances) >= 0


def test_entity_http_api_routes(host: HostThread) -> None:
    """POST ``entities/{name}/{key}?op=`` → 202 (unknown entity function → 400), GET state or 404, the
    entity list, and DELETE (op ``delete``: the counter destructs itself)."""
    base = f"{host.base_url}{API}/entities"
    assert httpx.post(f"{base}/Counter/h?op=add", content=b"7").status_code == 202  # text: a JSON string
    assert httpx.post(f"{base}/Counter/h?op=add", json="5").status_code == 202  # what the SDK posts
    bad = httpx.post(f"{base}/Nope/h?op=add", json="1")
    assert bad.status_code == 400 and "is not an entity function" in bad.text
    assert httpx.get(f"{base}/counter/never").status_code == 404
    bad_key = httpx.post(f"{base}/Counter/a%23b?op=add", json="1")
    assert bad_key.status_code == 400 and "Entity keys must not contain" in bad_key.text
    wait_for(lambda: httpx.get(f"{base}/counter/h").json() == 12, 10, interval_s=0.02, message="h at 12")
    listed = httpx.get(f"{base}/counter", params={"fetchState": "true"}).json()
    assert {"name": "counter", "key": "h"} in [e["entityId"] for e in listed]
    assert next(e["state"] for e in listed if e["entityId"]["key"] == "h") == 12
    assert httpx.delete(f"{base}/counter/h").status_code == 202
    wait_for(lambda: httpx.get(f"{base}/counter/h").status_code == 404, 10, interval_s=0.02,
             message="h deleted")


def test_entity_state_survives_a_restart(tmp_path: Path) -> None:
    """State committed before a stop is there after the next start on the same data dir."""
    with run_host(APP, data_dir=tmp_path) as first:
        signal_all(first.base_url, [("Counter", "kept", "add", 5)])
        wait_for(lambda: state_via_sdk(first.base_url, "Counter", "kept") == 5, 10, interval_s=0.02,
                 message="kept at 5")
    with run_host(APP, data_dir=tmp_path) as second:
        assert state_via_sdk(second.base_url, "Counter", "kept") == 5
        signal_all(second.base_url, [("Counter", "kept", "add", 1)])
        wait_for(lambda: state_via_sdk(second.base_url, "Counter", "kept") == 6, 10, interval_s=0.02,
                 message="kept at 6")


@pytest.mark.subprocess
@pytest.mark.timeout(120)
def test_kill_9_during_a_batch_loses_no_acknowledged_signal(tmp_path: Path) -> None:
    """devhost killed (SIGKILL) while an entity batch runs: after a restart every signal that was answered
    202 has been applied exactly once (the batch commits state and consumed messages together)."""
    data, markers = tmp_path / "data", tmp_path / "markers"
    markers.mkdir()
    env = {"ENTITY_MARKER_DIR": str(markers)}
    proc = start_subprocess(APP, data_dir=data, env=env)
    try:
        base = proc.wait_ready(60)
        signal_all(base, [("Tally", "t", "add", 1)] * 20)
        signal_all(base, [("Tally", "t", "slow_add", 1)])
        wait_for(lambda: (markers / "slow_add").exists(), 20, message="slow batch running")
        assert state_via_sdk(base, "Tally", "t") != 21  # HTTP served meanwhile; the batch is not committed
    finally:
        assert proc.kill() != 0
    with run_host(APP, data_dir=data) as restarted:  # in-process: the restart only needs the data dir
        wait_for(lambda: state_via_sdk(restarted.base_url, "Tally", "t") == 21, 20, interval_s=0.02,
                 message="tally at 21")
