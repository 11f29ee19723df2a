"""``GET /api/cases`` over many real cases: the latency of the paged, filtered case list.

Runs the real app (``function_app.py``) on an in-process devhost (SQLite task hub on disk, manual virtual
clock) against an in-memory Azurite, sends N business events through ``POST /api/events`` (default 1000:
3 of 5 ``order.cancel`` that complete on their own, 2 of 5 ``account.change`` that wait for an approver),
waits until every case is settled (completed and its orchestration ended, or awaiting approval), then times
``GET /api/cases`` one request at a time, the three queries in turn, as a reader who may read every case:
the first page (``top=50``), a filtered page (``stage=awaiting_approval``) and a continuation page. Prints
p50/p90 per query, and the task hub listing alone (every page of the Durable HTTP API's instance query),
which each list request reads first.

Usage: ``.venv/bin/python bench/cases_list.py [--cases 1000] [--requests 40] [--data-dir DIR]``.
Target (issue 12): p50 < 300 ms over 1,000 cases.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TIMEOUT_S = 900.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), inclusive method."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[min(98, max(0, round(q) - 1))]


def settings(connection_string: str, data_dir: Path) -> dict[str, str]:
    """App settings: the shipped policy, its own queues/containers in this Azurite."""
    return {
        "AzureWebJobsStorage": connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
        "CASE_EVENTS_QUEUE": "bench-events",
        "CASE_NOTIFICATIONS_QUEUE": "bench-notes",
        "CASE_AUDIT_CONTAINER": "bench-audit",
        "CASE_LEDGER_TABLE": "benchledger",
        "CASE_MAINTENANCE_SCHEDULE": "0 0 0 1 1 *",
        "GITHUB_WEBHOOK_SECRET": "bench-secret",
    }


def event(n: int) -> dict:
    """Event ``n``: an order cancellation (completes) or an account change (waits for approval)."""
    waits = n % 5 in (1, 3)
    return {"id": f"bench-{n}", "type": "account.change" if waits else "order.cancel",
            "requester": f"user{n % 7}", "subject": f"obj-{n}", "source": "bench", "data": {"n": n}}


def run(cases: int, requests: int, data_dir: Path) -> dict[str, float]:
    """Create ``cases`` cases, then time the list; returns the figures (ms, s)."""
    from devhost.storage.azurite import AzuriteProcess
    from devhost.testing import run_host, wait_for
    from shared.identity import encode_principal

    reader = encode_principal("reader", ["approver", "admin"])
    figures: dict[str, float] = {}
    azurite = AzuriteProcess(location=None, ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = azurite.start()
    try:
        with run_host(REPO, data_dir=data_dir, clock="virtual-manual",
                      settings=settings(endpoints.connection_string, data_dir)) as host, \
                httpx.Client(base_url=host.base_url, timeout=120) as client:
            started = time.perf_counter()

            def send(n: int) -> None:
                r = client.post("/api/events", content=json.dumps(event(n)),
                                headers={"Content-Type": "application/json"})
                r.raise_for_status()

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(send, range(cases)))
            figures["sent_s"] = time.perf_counter() - started

            completing = sum(1 for n in range(cases) if n % 5 not in (1, 3))

            def settled() -> bool:  # every case completed (its orchestration ended) or waiting for approval
                ended = _count(client, reader, "completed", runtime="Completed")
                waiting = _count(client, reader, "awaiting_approval")
                return ended >= completing and waiting >= cases - completing

            wait_for(settled, timeout_s=TIMEOUT_S, interval_s=2.0, message=f"{cases} cases settled")
            figures["settled_s"] = time.perf_counter() - started
            first = client.get("/api/cases", params={"top": "50"}, headers=reader).json()
            queries = {
                "first page (top=50)": {"top": "50"},
                "stage=awaiting_approval": {"top": "50", "stage": "awaiting_approval"},
                "continuation page": {"top": "50", "continuationToken": first["continuationToken"]},
            }
            samples: dict[str, list[float]] = {label: [] for label in queries}
            for _ in range(requests):  # round robin, so no query is favoured by when it runs
                for label, params in queries.items():
                    t0 = time.perf_counter()
                    r = client.get("/api/cases", params=params, headers=reader)
                    samples[label].append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200 and r.json()["count"] > 0, r.text[:200]
            for label, timings in samples.items():
                figures[f"{label} p50_ms"] = percentile(timings, 50)
                figures[f"{label} p90_ms"] = percentile(timings, 90)
            timings = []
            for _ in range(requests):  # the task hub listing alone (what every list request reads first)
                t0 = time.perf_counter()
                token, pages = None, 0
                while True:
                    r = client.get("/runtime/webhooks/durabletask/instances",
                                   params={"top": "500", "showInput": "false"},
                                   headers={"x-ms-continuation-token": token} if token else None)
                    pages += 1
                    token = r.headers.get("x-ms-continuation-token")
                    if not token or token == "null":
                        break
                timings.append((time.perf_counter() - t0) * 1000)
            figures["durable listing p50_ms"] = percentile(timings, 50)
            figures["durable listing p90_ms"] = percentile(timings, 90)
    finally:
        azurite.stop()
    return figures


def _count(client: httpx.Client, reader: dict[str, str], stage: str, runtime: str | None = None) -> int:
    total, token = 0, None
    while True:
        params = {"top": "200", "stage": stage} | ({"continuationToken": token} if token else {})
        params |= {"runtimeStatus": runtime} if runtime else {}
        body = client.get("/api/cases", params=params, headers=reader).json()
        total += body["count"]
        token = body["continuationToken"]
        if not token:
            return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp:
        figures = run(args.cases, args.requests, args.data_dir or Path(tmp))
    print(f"cases: {args.cases}  (sent in {figures['sent_s']:.1f} s, "
          f"settled after {figures['settled_s']:.1f} s)")
    for label in ("first page (top=50)", "stage=awaiting_approval", "continuation page"):
        print(f"GET /api/cases {label:<26} p50 {figures[label + ' p50_ms']:7.1f} ms   "
              f"p90 {figures[label + ' p90_ms']:7.1f} ms")
    print(f"(of which the task hub listing, all pages: p50 {figures['durable listing p50_ms']:.1f} ms   "
          f"p90 {figures['durable listing p90_ms']:.1f} ms)")
    print(f"GET /api/cases p50 over {args.cases} cases: {figures['first page (top=50) p50_ms']:.1f} ms "
          "(target < 300 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
