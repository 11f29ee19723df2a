"""Many waiting instances: devhost's memory with N instances parked on an external event, and the latency
from raising the event to the instance completing.

Runs the host in-process (:func:`devhost.testing.run_host`, SQLite task hub in a temporary directory on
disk) with ``bench/apps/waiting_app`` (``wait_one`` waits for event ``Go`` and returns its data). Starts N
instances (default 1000) through the task hub façade, waits until every one is Running (its first
episode ran and it waits), prints this process's resident set size (psutil; the process is devhost plus
this small driver), then raises the events one at a time and prints p50/p99 of raise → Completed.

Usage: ``.venv/bin/python bench/waiting.py [--instances 1000] [--data-dir DIR]``.
Targets (issue 4): RSS < 200 MB, p50 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

APP_DIR = REPO / "bench" / "apps" / "waiting_app"
TIMEOUT_S = 600.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation (``statistics.quantiles`` inclusive)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[min(98, max(0, round(q) - 1))]


def rss_mb() -> float:
    """Resident set size of this process in MB (10^6 bytes)."""
    return psutil.Process().memory_info().rss / 1e6


def run(instances: int, data_dir: Path) -> dict[str, float]:
    """Start, park, measure memory, raise one by one; returns the figures (MB, ms, s)."""
    from throughput import find_hub

    from devhost.testing import run_host

    figures: dict[str, float] = {"rss_before_mb": rss_mb()}
    with run_host(APP_DIR, data_dir=data_dir, clock="system") as h:
        hub = find_hub(h.host)
        figures["rss_started_mb"] = rss_mb()

        async def park() -> list[str]:
            start = time.perf_counter()
            ids = [await hub.start_new("wait_one", f"w{i:05d}", None) for i in range(instances)]
            deadline = time.monotonic() + TIMEOUT_S
            pending = set(ids)
            while pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending)} instance(s) never started waiting")
                states = await asyncio.gather(*(hub.get_instance(i) for i in list(pending)))
                pending -= {s.instance_id for s in states if s is not None and s.runtime_status == "Running"}
                if pending:
                    await asyncio.sleep(0.05)
            figures["park_s"] = time.perf_counter() - start
            return ids

        ids = h.call(park(), TIMEOUT_S)
        figures["rss_waiting_mb"] = rss_mb()

        async def raise_all() -> list[float]:
            latencies: list[float] = []
            for iid in ids:
                start = time.perf_counter()
                await hub.raise_event(iid, "Go", '"ok"')
                state = await hub.wait_for_completion(iid, 60)
                if state is None or state.runtime_status != "Completed":
                    raise RuntimeError(f"{iid} did not complete: {state}")
                latencies.append((time.perf_counter() - start) * 1000)
            return latencies

        latencies = h.call(raise_all(), TIMEOUT_S)
    figures["p50_ms"] = percentile(latencies, 50)
    figures["p99_ms"] = percentile(latencies, 99)
    figures["max_ms"] = max(latencies)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000, help="waiting instances")
    parser.add_argument("--data-dir", type=Path, help="devhost data dir (default: a temporary dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="devhost-wait-") as tmp:
        f = run(args.instances, args.data_dir or Path(tmp))
    print(f"instances waiting: {args.instances} (parked in {f['park_s']:.2f} s)")
    print(f"resident memory: {f['rss_waiting_mb']:.1f} MB with {args.instances} waiting "
          f"(host started: {f['rss_started_mb']:.1f} MB, before host: {f['rss_before_mb']:.1f} MB)")
    print(f"raise -> completed: p50 {f['p50_ms']:.2f} ms  p99 {f['p99_ms']:.2f} ms  max {f['max_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
