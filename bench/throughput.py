"""Throughput of devhost's task hub against durabletask's own in-memory backend, on the same workloads.

Workloads (issue 4 acceptance): ``chain5`` = N orchestrations (default 200) each chaining five activities,
measured as orchestrations completed per second; ``fanout200`` = one orchestration fanning out M
activities (default 200) and summing them, measured as activities completed per second.

Backends:
- devhost: the whole host in-process (:func:`devhost.testing.run_host`) with the SQLite task hub in a
  temporary directory on disk, the app ``bench/apps/throughput_app`` replayed by the official
  azure-functions-durable SDK; instances are started and awaited through the task hub façade on the
  host's event loop (no HTTP in the measured path).
- in-memory: ``durabletask.testing.InMemoryOrchestrationBackend`` (gRPC sidecar in this process) with
  the SDK's ``TaskHubGrpcWorker`` and ``TaskHubGrpcClient`` (durabletask 1.12).

Concurrency: both sides keep their own defaults and the script prints them. devhost: host.json
``maxConcurrentActivityFunctions`` (default 10 x CPUs) activities in flight, run on the host's function
thread pool (``PYTHON_THREADPOOL_THREAD_COUNT``, default min(32, CPUs + 4)); durabletask: its worker's
``ConcurrencyOptions`` (100 x CPUs activity work items, a thread pool of CPUs + 4 that runs activities
and orchestrators). Both therefore run activities on CPUs + 4 threads.

Usage: ``.venv/bin/python bench/throughput.py [--chain 200] [--fanout 200] [--data-dir DIR]``. Prints the
concurrency of both sides and how many episodes devhost's fan-out took, a table, then
``devhost/in-memory ratio: chain5 X.XX fanout200 Y.YY`` (throughput ratios; higher is better).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

APP_DIR = REPO / "bench" / "apps" / "throughput_app"
TIMEOUT_S = 600.0


@dataclass
class Result:
    """One measurement: ``items`` completed in ``seconds`` (wall time)."""

    workload: str
    backend: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")


def find_hub(host: Any) -> Any:
    """The task hub façade of a started devhost Host (the durable extension's ``hub``)."""
    for ext in host.extensions:
        hub = getattr(ext, "hub", None)
        if hub is not None:
            return hub
    raise RuntimeError("the durable extension is not loaded (no extension exposes .hub)")


async def _wait_all(hub: Any, ids: list[str]) -> None:
    """Wait for each instance in turn (as the in-memory side does with its client)."""
    for iid in ids:
        state = await hub.wait_for_completion(iid, TIMEOUT_S)
        if state is None or state.runtime_status != "Completed":
            raise RuntimeError(f"instance {iid} did not complete: {state}")


def run_devhost(chain: int, fanout: int, data_dir: Path) -> list[Result]:
    """Both workloads on one in-process devhost with its SQLite task hub under ``data_dir``."""
    from devhost.durable import history
    from devhost.functions.invoke import thread_pool_size
    from devhost.testing import run_host

    results: list[Result] = []
    with run_host(APP_DIR, data_dir=data_dir, clock="system") as h:
        hub = find_hub(h.host)
        options = next(e.options for e in h.host.extensions if getattr(e, "hub", None) is hub)
        print(f"devhost concurrency: maxConcurrentActivityFunctions={options.max_concurrent_activities}, "
              f"maxConcurrentOrchestratorFunctions={options.max_concurrent_orchestrators}, "
              f"function threads={thread_pool_size(h.host.config)}", flush=True)
        fan_id: list[str] = []

        async def chain_workload() -> float:
            start = time.perf_counter()
            ids = [await hub.start_new("chain5", None, "0") for _ in range(chain)]
            await _wait_all(hub, ids)
            return time.perf_counter() - start

        async def fanout_workload() -> float:
            start = time.perf_counter()
            iid = await hub.start_new("fanout", None, str(fanout))
            await _wait_all(hub, [iid])
            fan_id.append(iid)
            return time.perf_counter() - start

        results.append(Result("chain5", "devhost", chain, h.call(chain_workload(), TIMEOUT_S)))
        results.append(Result("fanout200", "devhost", fanout, h.call(fanout_workload(), TIMEOUT_S)))
        events = h.call(hub.get_history(fan_id[0]), TIMEOUT_S)
        episodes = sum(1 for e in events if e["EventType"] == history.ORCHESTRATOR_STARTED)
        print(f"devhost fanout200: {episodes} episodes (the SDK replays the whole history in each)",
              flush=True)
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_in_memory(chain: int, fanout: int) -> list[Result]:
    """Both workloads on durabletask's in-memory backend with its gRPC worker and client."""
    from durabletask import task
    from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
    from durabletask.testing import InMemoryOrchestrationBackend
    from durabletask.worker import TaskHubGrpcWorker

    def work(ctx: task.ActivityContext, value: int) -> int:
        return value + 1

    def chain5(ctx: task.OrchestrationContext, value: int):
        for _ in range(5):
            value = yield ctx.call_activity(work, input=value)
        return value

    def fanout_orch(ctx: task.OrchestrationContext, count: int):
        results = yield task.when_all([ctx.call_activity(work, input=i) for i in range(count)])
        return sum(results)

    port = _free_port()
    backend = InMemoryOrchestrationBackend(port=port)
    backend.start()
    address = f"localhost:{port}"
    quiet = logging.getLogger("bench.durabletask")
    quiet.setLevel(logging.WARNING)
    worker = TaskHubGrpcWorker(host_address=address, logger=quiet)
    worker.add_orchestrator(chain5)
    worker.add_orchestrator(fanout_orch)
    worker.add_activity(work)
    worker.start()
    opts = worker.concurrency_options
    print(f"in-memory concurrency: maximum_concurrent_activity_work_items="
          f"{opts.maximum_concurrent_activity_work_items}, maximum_concurrent_orchestration_work_items="
          f"{opts.maximum_concurrent_orchestration_work_items}, "
          f"thread pool={opts.maximum_thread_pool_workers}", flush=True)
    client = TaskHubGrpcClient(host_address=address, logger=quiet)
    results: list[Result] = []

    def wait(ids: list[str]) -> None:
        for iid in ids:
            state = client.wait_for_orchestration_completion(iid, timeout=int(TIMEOUT_S))
            if state is None or state.runtime_status != OrchestrationStatus.COMPLETED:
                raise RuntimeError(f"in-memory instance {iid} did not complete: {state}")

    try:
        start = time.perf_counter()
        ids = [client.schedule_new_orchestration(chain5, input=0) for _ in range(chain)]
        wait(ids)
        results.append(Result("chain5", "in-memory", chain, time.perf_counter() - start))
        start = time.perf_counter()
        wait([client.schedule_new_orchestration(fanout_orch, input=fanout)])
        results.append(Result("fanout200", "in-memory", fanout, time.perf_counter() - start))
    finally:
        worker.stop()
        backend.stop(grace=1)
    return results


def print_table(results: list[Result]) -> None:
    """Workload, backend, items, seconds and items per second, one row each."""
    print(f"{'workload':10} {'backend':10} {'items':>6} {'seconds':>9} {'items/s':>9}")
    for r in results:
        print(f"{r.workload:10} {r.backend:10} {r.items:>6} {r.seconds:>9.3f} {r.rate:>9.1f}")


def ratio_line(results: list[Result]) -> str:
    """``devhost/in-memory ratio: chain5 X.XX fanout200 Y.YY``."""
    rate = {(r.workload, r.backend): r.rate for r in results}
    chain = rate[("chain5", "devhost")] / rate[("chain5", "in-memory")]
    fan = rate[("fanout200", "devhost")] / rate[("fanout200", "in-memory")]
    return f"devhost/in-memory ratio: chain5 {chain:.2f} fanout200 {fan:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=int, default=200, help="orchestrations in the chain5 workload")
    parser.add_argument("--fanout", type=int, default=200, help="activities in the fan-out workload")
    parser.add_argument("--data-dir", type=Path, help="devhost data dir (default: a temporary dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(f"chain5: {args.chain} orchestrations x 5 activities; fanout200: 1 orchestration x "
          f"{args.fanout} activities", flush=True)
    with tempfile.TemporaryDirectory(prefix="devhost-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        results = run_devhost(args.chain, args.fanout, data_dir)
    results += run_in_memory(args.chain, args.fanout)
    results.sort(key=lambda r: (r.workload, r.backend))
    print_table(results)
    print(ratio_line(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
