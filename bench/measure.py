"""What the benches measure with: azure-core transport request counting, quantiles, the machine's load and
Azurite's CPU, and the engine's ``chain5`` reference workload (``bench/apps/throughput_app``, as in
``bench/throughput.py``) that ``bench/cases.py`` compares one case's cost to.

Split out of ``bench/cases.py`` (one module, one concept: measuring, not driving cases).
"""

from __future__ import annotations

import collections
import contextlib
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHAIN_APP = REPO / "bench" / "apps" / "throughput_app"
#: Seconds any one wait of a bench may take.
TIMEOUT_S = 300.0
#: DTFx ``EventType`` numbers (DurableTask.Core ``EventType``) to names, for the per-type breakdown.
EVENT_TYPES = [
    "ExecutionStarted", "ExecutionCompleted", "ExecutionFailed", "ExecutionTerminated", "TaskScheduled",
    "TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCreated", "SubOrchestrationInstanceCompleted",
    "SubOrchestrationInstanceFailed", "TimerCreated", "TimerFired", "OrchestratorStarted",
    "OrchestratorCompleted", "EventSent", "EventRaised", "ContinueAsNew", "GenericEvent", "HistoryState",
    "ExecutionSuspended", "ExecutionResumed",
]


# -- storage requests at the SDK transport ------------------------------------------------------------
class StorageCounter:
    """Counts every request sent through azure-core's sync ``RequestsTransport`` (what the app's storage
    clients use), keyed by ``(service, method)``; service from the Azurite port (blob/queue/table).
    ``install(endpoints, rtt_s)`` also delays each such request by ``rtt_s`` seconds before it is sent (a
    remote storage account's round trip; Azurite on loopback answers in CPU time only)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.lock = threading.Lock()
        self.ports: dict[int, str] = {}

    def install(self, endpoints: Any, rtt_s: float = 0.0) -> None:
        from urllib.parse import urlsplit

        from azure.core.pipeline.transport import RequestsTransport

        for service in ("blob", "queue", "table"):
            self.ports[urlsplit(getattr(endpoints, service)).port or 0] = service
        original = RequestsTransport.send
        counter = self

        def send(transport: Any, request: Any, **kwargs: Any) -> Any:
            service = counter.ports.get(urlsplit(request.url).port or 0, "other")
            with counter.lock:
                counter.counts[(service, request.method)] += 1
            if rtt_s > 0:
                time.sleep(rtt_s)
            return original(transport, request, **kwargs)

        RequestsTransport.send = send  # type: ignore[method-assign]

    def snapshot(self) -> collections.Counter[tuple[str, str]]:
        with self.lock:
            return collections.Counter(self.counts)


# -- small helpers ----------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank); nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def p50_p99(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):7.1f} ms  p99 {pct(values, 0.99):7.1f} ms  (n={len(values)})"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def azurite_cpu_s(azurite: Any) -> float:
    """CPU seconds (user + system) used so far by the Azurite process (and its children), from /proc."""
    proc = getattr(azurite, "_proc", None)
    if proc is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [proc.pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def find_hub(host: Any) -> Any:
    for ext in host.extensions:
        if getattr(ext, "hub", None) is not None:
            return ext.hub
    raise RuntimeError("the durable extension is not loaded")


# -- the engine's reference workload ----------------------------------------------------------------------
def chain5_reference(data_dir: Path, count: int, one_at_a_time: int) -> tuple[float, float, float]:
    """(p50 ms of one chain5 orchestration run alone, chain5 orchestrations/s with ``count`` started, CPU
    ms of this process per orchestration in that run)."""
    from devhost.testing import run_host

    with run_host(CHAIN_APP, data_dir=data_dir, clock="system") as h:
        hub = find_hub(h.host)

        async def one() -> float:
            start = time.perf_counter()
            iid = await hub.start_new("chain5", None, "0")
            state = await hub.wait_for_completion(iid, TIMEOUT_S)
            assert state is not None and state.runtime_status == "Completed", state
            return (time.perf_counter() - start) * 1000

        async def many() -> float:
            start = time.perf_counter()
            ids = [await hub.start_new("chain5", None, "0") for _ in range(count)]
            for iid in ids:
                state = await hub.wait_for_completion(iid, TIMEOUT_S)
                assert state is not None and state.runtime_status == "Completed", state
            return time.perf_counter() - start

        h.call(one(), TIMEOUT_S)  # warm-up
        alone = [h.call(one(), TIMEOUT_S) for _ in range(one_at_a_time)]
        cpu = time.process_time()
        seconds = h.call(many(), TIMEOUT_S)
        cpu = time.process_time() - cpu
    return statistics.median(alone), count / seconds, cpu * 1000 / count


# -- what one storage request costs -------------------------------------------------------------------------
#: The storage requests of one auto-approved case (orchestration version 8.0 on): decide's and notify's
#: audit appends (blob PUT), apply's ledger claim (table POST) and result (table PUT), notify's message
#: (queue POST). Four of them are one after another on the case's path: decide's append, apply's claim,
#: apply's result, notify's message (its append beside it).
AUTO_CASE_REQUESTS = {"blob PUT": 2, "table POST": 1, "table PUT": 1, "queue POST": 1}
AUTO_CASE_SEQUENTIAL = 4


def storage_request_costs(connection_string: str, azurite: Any, n: int = 100) -> dict[str, dict[str, float]]:
    """What one storage request of each kind an auto case sends costs against this Azurite, sent one at a
    time with the Azure SDK clients the app uses (``use_env_settings=False``, as ``shared/storage.py``):
    ``{"blob PUT" | "table POST" | "table PUT" | "queue POST": {"wall_ms": p50, "client_cpu_ms": mean CPU
    of the sending thread, "azurite_cpu_ms": mean CPU of Azurite}}``. Bodies of ~1 KiB, like an audit
    record or a ledger entry. Raises what the SDK raises when Azurite does not answer."""
    import uuid

    from azure.data.tables import TableServiceClient, UpdateMode
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    suffix = uuid.uuid4().hex[:8]
    blob = BlobServiceClient.from_connection_string(connection_string, use_env_settings=False)
    container = blob.get_container_client(f"floor-{suffix}")
    container.create_container()
    queue = QueueServiceClient.from_connection_string(connection_string, use_env_settings=False)
    messages = queue.get_queue_client(f"floor-{suffix}")
    messages.create_queue()
    tables = TableServiceClient.from_connection_string(connection_string, use_env_settings=False)
    table = tables.create_table(f"floor{suffix}")
    body = "x" * 1024
    keys = [f"k{i}" for i in range(n)]
    kinds: dict[str, Any] = {
        "blob PUT": lambda i: container.upload_blob(keys[i], body.encode()),
        "table POST": lambda i: table.create_entity({"PartitionKey": "p", "RowKey": keys[i], "body": body}),
        "table PUT": lambda i: table.upsert_entity(  # the ledger's result
            {"PartitionKey": "p", "RowKey": keys[i], "done": body}, mode=UpdateMode.REPLACE
        ),
        "queue POST": lambda i: messages.send_message(body),
    }
    costs: dict[str, dict[str, float]] = {}
    for kind, send in kinds.items():
        send(0)  # connection and first-call set-up not counted
        walls: list[float] = []
        cpu, az = time.thread_time(), azurite_cpu_s(azurite)
        for i in range(1, n):
            start = time.perf_counter()
            send(i)
            walls.append((time.perf_counter() - start) * 1000)
        costs[kind] = {
            "wall_ms": statistics.median(walls),
            "client_cpu_ms": (time.thread_time() - cpu) * 1000 / (n - 1),
            "azurite_cpu_ms": (azurite_cpu_s(azurite) - az) * 1000 / (n - 1),
        }
    return costs
