"""What a case costs: the case app on devhost + Azurite, measured next to the engine's own chain5 workload.

Drives the real ``function_app.py`` on an in-process devhost (system clock, SQLite task hub in a temporary
directory) against an in-memory Azurite started for the run, with the e2e test policy (business tools
switched to the ``webhook`` adapter aimed at a local downstream server, the GitHub API rebased onto it;
``tests/e2e/case_harness.py``). In the same run, before and after the cases, the engine's ``chain5``
workload (``bench/apps/throughput_app``, as in ``bench/throughput.py``) gives the reference: one chain5
orchestration's latency (one at a time) and chain5 orchestrations per second (all started at once).

Events (every one over real HTTP ``POST /api/events``):

- ``auto``: plain ``order.cancel`` events (risk class write: no approval, one webhook side effect);
- ``approved``: plain ``account.change`` events (privileged): a scripted approver ``bob`` (role approver)
  approves through ``POST /api/cases/{id}/decision`` with App Service Authentication principal headers
  (``shared.identity.encode_principal``) as soon as the tier's approval instance runs;
- ``github``: signed ``@octokit/webhooks-examples`` ``deployment`` ``created`` deliveries (each with its
  own deployment id): environment ``staging`` (auto) and ``production`` (approval); both end with a
  deployment status posted to the (local) GitHub API.

Phases: a warm-up of each kind (not counted); each kind one at a time (ingress latency, received →
terminal, storage requests, history); ``--burst`` auto events from 16 sender threads (ingress latency
under load, cases/s); the same auto burst from 16 threads of another process (``bench/remote_senders.py``:
clients are remote, and the chain5 reference has no client at all); a mixed burst of all kinds with
scripted approvers (cases/s).

Figures printed:

- ingress ``POST /api/events`` p50/p99 (ms), one at a time and at 16 senders;
- received → terminal p50/p99 (ms) for auto cases, one at a time (from sending the POST to the instance
  reaching a terminal status in the task hub, awaited on the host's event loop, no polling);
- cases/s at 16 senders, and the case cost in chain5 orchestrations = (chain5 orchestrations/s) ÷
  (cases/s), both measured in this run; and the same cost by CPU time (less sensitive to what else runs on
  the machine): CPU ms of this process (``time.process_time``: app, devhost and the bench's own sender
  threads) plus Azurite's (``/proc``) per auto case in the burst, over CPU ms per chain5 orchestration;
- history per case by kind: events and bytes (``json.dumps`` of the task hub's DTFx-shaped history of the
  case instance plus its approval instances; also "KiB stored": string properties such as inputs and
  results counted once, as a task hub keeps them, see :func:`stored_size`), activity executions
  (``TaskScheduled``) and sub-orchestrations, and the history event types of one case;
- storage requests per case by kind: every request the app's Azure SDK clients send, counted at the
  transport (``azure.core`` ``RequestsTransport.send``, the sync transport the app's clients use; devhost's
  own queue/timer listeners use the async transport and are not counted), also by service and method;
- the floor of this design: what one storage request of each kind the auto case sends costs, sent alone
  with the app's SDK clients (wall p50, client and Azurite CPU), and from it and chain5, measured in this
  run, what an auto case cannot go below with its guarantees (the chain5 of its five sequential steps, plus
  its sequential storage round trips for latency, plus all its storage requests' CPU), with no app code,
  no ingress, no webhook and no replay of a larger history counted.

Usage: ``.venv/bin/python bench/cases.py [--auto 40] [--approved 10] [--github 10] [--burst 200]
[--senders 16] [--chain 200] [--storage-rtt-ms 0]``; ``--smoke`` runs tiny sizes (the test suite uses it);
``--storage-rtt-ms`` delays every storage request of the app at the transport by that many ms, as a remote
storage account's round trip would (Azurite on loopback costs CPU only, so work that overlaps storage
requests shows only with it). Prints the load average (``/proc/loadavg``) at start and end: the figures
depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import (  # noqa: E402
    AUTO_CASE_REQUESTS,
    AUTO_CASE_SEQUENTIAL,
    EVENT_TYPES,
    TIMEOUT_S,
    StorageCounter,
    azurite_cpu_s,
    chain5_reference,
    find_hub,
    loadavg,
    p50_p99,
    pct,
    storage_request_costs,
)
from bench.remote_senders import remote_burst  # noqa: E402


# -- the case app -----------------------------------------------------------------------------------------
class CaseBench:
    """The case app on devhost; sends events and awaits their cases."""

    def __init__(self, host: Any, counter: StorageCounter) -> None:
        import httpx

        from tests.e2e.case_harness import principal

        self.h = host
        self.hub = find_hub(host.host)
        self.base = host.base_url
        self.counter = counter
        self.local = threading.local()
        self.approver = principal("bob", "approver")
        self._httpx = httpx

    @property
    def http(self) -> Any:
        """This thread's HTTP client (kept-alive connections)."""
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = self._httpx.Client(timeout=60)
        return client

    # events -------------------------------------------------------------------------------------------
    def request(self, kind: str) -> tuple[dict[str, str], bytes, bool]:
        """(headers, body, needs approval) of a fresh event of ``kind``."""
        from tests.e2e.case_harness import plain_event
        from tests.fixtures.octokit_examples import delivery, example

        tag = uuid.uuid4().hex[:12]
        if kind == "auto":
            body = plain_event(f"cancel-{tag}", "order.cancel", requester="dana", amount=20, order=tag)
            return {"Content-Type": "application/json"}, json.dumps(body).encode(), False
        if kind == "approved":
            body = plain_event(f"acct-{tag}", "account.change", requester="alice", field="iban")
            return {"Content-Type": "application/json"}, json.dumps(body).encode(), True
        if kind.startswith("github-"):
            payload = example("deployment", "created")
            payload["deployment"]["id"] = int(tag[:8], 16)
            if kind == "github-auto":  # not production: risk class write, no approval
                payload["deployment"]["environment"] = "staging"
            headers, raw = delivery("deployment", payload, delivery_id=tag)
            return headers, raw, kind == "github-approved"
        raise ValueError(kind)

    def send(self, kind: str) -> tuple[str, float, float, bool]:
        """POST one event; returns (case id, ingress ms, perf_counter at send, needs approval)."""
        headers, body, needs_approval = self.request(kind)
        sent = time.perf_counter()
        r = self.http.post(f"{self.base}/api/events", content=body, headers=headers)
        took = (time.perf_counter() - sent) * 1000
        if r.status_code != 202:
            raise RuntimeError(f"{kind}: POST /api/events answered {r.status_code}: {r.text}")
        return r.json()["instanceId"], took, sent, needs_approval

    def wait_terminal(self, case_id: str) -> tuple[str, float]:
        """(runtime status, perf_counter when seen terminal) of ``case_id``."""
        state = self.h.call(self.hub.wait_for_completion(case_id, TIMEOUT_S), TIMEOUT_S + 5)
        if state is None:
            raise RuntimeError(f"case {case_id} did not finish")
        return state.runtime_status, time.perf_counter()

    def approve(self, case_id: str) -> None:
        """The scripted approver: waits until tier 0's approval instance runs, then approves as bob."""
        approval_id = f"{case_id}-approval-0"
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.h.call(self.hub.get_instance(approval_id))
            if state is not None and state.runtime_status == "Running":
                r = self.http.post(f"{self.base}/api/cases/{case_id}/decision", headers=self.approver,
                                   json={"decision": "approve", "reason": "bench"})
                if r.status_code == 202:
                    return
                if r.status_code != 409:
                    raise RuntimeError(f"decision on {case_id}: {r.status_code} {r.text}")
            self.h.call(self.hub.wait_for_change(case_id, 0.05))
        raise RuntimeError(f"case {case_id} never awaited approval")

    def run_case(self, kind: str) -> dict[str, Any]:
        """One case of ``kind`` start to finish: ids, ingress ms, received → terminal ms, status."""
        case_id, ingress_ms, sent, needs_approval = self.send(kind)
        if needs_approval:
            self.approve(case_id)
        status, done = self.wait_terminal(case_id)
        if status != "Completed":
            raise RuntimeError(f"{kind} case {case_id} ended {status}")
        return {"kind": kind, "id": case_id, "ingress_ms": ingress_ms, "e2e_ms": (done - sent) * 1000}

    # history ------------------------------------------------------------------------------------------
    def history(self, case_id: str) -> dict[str, Any]:
        """Events, bytes, activity executions, sub-orchestrations and event types of a case (its approval
        instances included)."""
        ids = [case_id]
        tier = 0
        while self.h.call(self.hub.get_instance(f"{case_id}-approval-{tier}")) is not None:
            ids.append(f"{case_id}-approval-{tier}")
            tier += 1
        events: list[dict[str, Any]] = []
        size = stored = 0
        for iid in ids:
            hist = self.h.call(self.hub.get_history(iid))
            events += hist
            size += len(json.dumps(hist))
            stored += sum(stored_size(e) for e in hist)
        types = collections.Counter(EVENT_TYPES[e["EventType"]] for e in events)
        return {
            "events": len(events),
            "bytes": size,
            "stored": stored,
            "activities": sum(1 for e in events if e["EventType"] == 4),  # TaskScheduled
            "suborchestrations": sum(1 for e in events if e["EventType"] == 7),
            "types": types,
        }


def stored_size(event: dict[str, Any]) -> int:
    """Bytes of one history event as a task hub keeps it: string properties (the inputs and results are
    JSON text) counted once as UTF-8, the other properties as compact JSON; ``json.dumps`` of the history
    (the KiB column) escapes the JSON text inside it again."""
    strings = {k: v for k, v in event.items() if isinstance(v, str)}
    rest = {k: v for k, v in event.items() if k not in strings}
    return len(json.dumps(rest, separators=(",", ":"))) + sum(len(v.encode()) for v in strings.values())


def sequential(bench: CaseBench, kind: str, n: int) -> tuple[list[dict[str, Any]], collections.Counter]:
    """``n`` cases of ``kind`` one after another; returns their rows and the storage requests they made."""
    before = bench.counter.snapshot()
    rows = [bench.run_case(kind) for _ in range(n)]
    after = bench.counter.snapshot()
    return rows, after - before


def burst(bench: CaseBench, kinds: list[str], senders: int) -> tuple[list[dict[str, Any]], float]:
    """Every event of ``kinds`` from ``senders`` threads at once; returns the rows and cases/s (first send
    to last terminal case)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        rows = list(pool.map(bench.run_case, kinds))
    return rows, len(kinds) / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> int:
    from devhost.storage.azurite import AzuriteProcess
    from devhost.testing import run_host
    from tests.e2e.case_harness import app_settings, write_policy
    from tests.fixtures.downstream import DownstreamServer

    print(f"loadavg at start: {loadavg()}", flush=True)
    counter = StorageCounter()
    azurite = AzuriteProcess(location=None, ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = azurite.start()
    counter.install(endpoints, args.storage_rtt_ms / 1000)
    if args.storage_rtt_ms:
        print(f"every storage request of the app delayed by {args.storage_rtt_ms:g} ms (--storage-rtt-ms)")

    class _Azurite:  # what case_harness.app_settings reads
        connection_string = endpoints.connection_string

        @staticmethod
        def unique(prefix: str) -> str:
            return f"{prefix}-{uuid.uuid4().hex[:8]}"

    try:
        with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp, DownstreamServer() as downstream:
            tmp_path = Path(tmp)
            chain_before = chain5_reference(tmp_path / "chain-a", args.chain, args.chain_alone)
            print(f"chain5 before: one alone p50 {chain_before[0]:.1f} ms, {chain_before[1]:.1f} orch/s",
                  flush=True)
            floor = storage_request_costs(endpoints.connection_string, azurite, 10 if args.smoke else 100)
            policy = write_policy(tmp_path / "policy.json", downstream.url)
            settings = app_settings(_Azurite, policy, downstream.url)
            with run_host(REPO, data_dir=tmp_path / "cases", clock="system", settings=settings) as h:
                bench = CaseBench(h, counter)
                for kind in ("auto", "approved", "github-auto", "github-approved"):
                    for _ in range(args.warmup):
                        bench.run_case(kind)
                seq: dict[str, tuple[list[dict[str, Any]], collections.Counter]] = {}
                half = max(1, args.github // 2)
                for kind, n in (("auto", args.auto), ("approved", args.approved),
                                ("github-auto", half), ("github-approved", half)):
                    seq[kind] = sequential(bench, kind, n)
                cpu, az_cpu = time.process_time(), azurite_cpu_s(azurite)
                auto_burst, auto_rate = burst(bench, ["auto"] * args.burst, args.senders)
                case_cpu_ms = (time.process_time() - cpu) * 1000 / args.burst
                case_azurite_ms = (azurite_cpu_s(azurite) - az_cpu) * 1000 / args.burst
                cpu, az_cpu = time.process_time(), azurite_cpu_s(azurite)
                remote = remote_burst(h, bench.hub, bench.base, args.burst, args.senders)
                remote["cpu_ms"] = (time.process_time() - cpu) * 1000 / args.burst
                remote["azurite_ms"] = (azurite_cpu_s(azurite) - az_cpu) * 1000 / args.burst
                mix = (["auto"] * 6 + ["approved", "github-auto", "github-approved", "auto"])
                mixed_kinds = [mix[i % len(mix)] for i in range(args.burst)]
                mixed_rows, mixed_rate = burst(bench, mixed_kinds, args.senders)
                histories = {kind: [bench.history(r["id"]) for r in rows] for kind, (rows, _) in seq.items()}
                if args.dump_history:
                    args.dump_history.mkdir(parents=True, exist_ok=True)
                    for kind, (rows, _) in seq.items():
                        hist = h.call(bench.hub.get_history(rows[0]["id"]))
                        (args.dump_history / f"{kind}.json").write_text(json.dumps(hist, indent=1))
                        tier = 0  # the case's approval tier instances beside it: {kind}-approval-{tier}.json
                        while h.call(bench.hub.get_instance(tier_id := f"{rows[0]['id']}-approval-{tier}")):
                            tier_hist = h.call(bench.hub.get_history(tier_id))
                            path = args.dump_history / f"{kind}-approval-{tier}.json"
                            path.write_text(json.dumps(tier_hist, indent=1))
                            tier += 1
            chain_after = chain5_reference(tmp_path / "chain-b", args.chain, args.chain_alone)
            print(f"chain5 after:  one alone p50 {chain_after[0]:.1f} ms, {chain_after[1]:.1f} orch/s",
                  flush=True)
    finally:
        azurite.stop()

    chain_alone = (chain_before[0] + chain_after[0]) / 2
    chain_rate = (chain_before[1] + chain_after[1]) / 2
    print()
    print(f"== reference: chain5 one alone p50 {chain_alone:.1f} ms; {chain_rate:.1f} chain5 orch/s "
          f"({args.chain} started at once; mean of before/after)")
    auto_rows = seq["auto"][0]
    print("== ingress POST /api/events")
    print(f"one at a time (auto):      {p50_p99([r['ingress_ms'] for r in auto_rows])}")
    print(f"{args.senders} senders (auto burst):  {p50_p99([r['ingress_ms'] for r in auto_burst])}")
    print(f"{args.senders} senders (mixed burst): {p50_p99([r['ingress_ms'] for r in mixed_rows])}")
    print(f"{args.senders} senders in another process (auto burst): "
          f"{p50_p99([r['ingress_ms'] for r in remote['rows']])}")
    print("== received -> terminal (one at a time)")
    for kind, (rows, _) in seq.items():
        print(f"{kind:16} {p50_p99([r['e2e_ms'] for r in rows])}")
    e2e_auto = pct([r["e2e_ms"] for r in auto_rows], 0.5)
    print(f"auto p50 / chain5 alone p50: {e2e_auto / chain_alone:.2f}x (target <= 3)")
    print("== throughput")
    print(f"auto cases/s at {args.senders} senders:  {auto_rate:.1f}  ({args.burst} cases)")
    print(f"mixed cases/s at {args.senders} senders: {mixed_rate:.1f}  ({args.burst} cases; "
          f"{sum(1 for k in mixed_kinds if 'approved' in k)} with a scripted approval)")
    print(f"auto cases/s at {args.senders} senders in another process: {remote['rate']:.1f}  "
          f"({args.burst} cases)")
    print(f"case cost: {chain_rate / auto_rate:.2f} chain5 orchestrations per auto case (target <= 4); "
          f"{chain_rate / mixed_rate:.2f} per mixed case; {chain_rate / remote['rate']:.2f} per auto case "
          "with the senders in another process")
    chain_cpu = (chain_before[2] + chain_after[2]) / 2
    print(f"CPU per auto case ({args.senders}-sender burst): {case_cpu_ms:.1f} ms in the host process (app, "
          f"devhost, bench senders) + {case_azurite_ms:.1f} ms in Azurite; per chain5 orchestration: "
          f"{chain_cpu:.2f} ms; case cost by CPU: {(case_cpu_ms + case_azurite_ms) / chain_cpu:.1f} chain5 "
          "orchestrations")
    print(f"CPU per auto case (senders in another process): {remote['cpu_ms']:.1f} ms in the host process "
          f"(app, devhost) + {remote['azurite_ms']:.1f} ms in Azurite (+ {remote['sender_cpu_ms']:.1f} ms in "
          f"the sender process, not counted); case cost by CPU: "
          f"{(remote['cpu_ms'] + remote['azurite_ms']) / chain_cpu:.1f} chain5 orchestrations")
    print("== per case, by kind (one at a time; approval instances included)")
    print(f"{'kind':16} {'events':>6} {'KiB':>7} {'activities':>10} {'sub-orch':>8} {'storage req':>11} "
          f"{'KiB stored':>10}")
    for kind, (rows, requests) in seq.items():
        hs = histories[kind]
        n = len(rows)
        print(f"{kind:16} {statistics.mean(h['events'] for h in hs):>6.1f} "
              f"{statistics.mean(h['bytes'] for h in hs) / 1024:>7.1f} "
              f"{statistics.mean(h['activities'] for h in hs):>10.1f} "
              f"{statistics.mean(h['suborchestrations'] for h in hs):>8.1f} "
              f"{sum(requests.values()) / n:>11.1f} "
              f"{statistics.mean(h['stored'] for h in hs) / 1024:>10.1f}")
    for kind, (rows, requests) in seq.items():
        per = ", ".join(f"{svc} {method} {count / len(rows):.1f}"
                        for (svc, method), count in sorted(requests.items()))
        print(f"storage requests per {kind} case: {per}")
    for kind in ("auto", "approved"):
        types = histories[kind][0]["types"]
        print(f"history event types of one {kind} case: "
              + ", ".join(f"{name} {count}" for name, count in sorted(types.items())))
    print_floor(floor, chain_alone, chain_cpu, chain_rate, pct([r["ingress_ms"] for r in auto_rows], 0.5))
    print(f"loadavg at end: {loadavg()}", flush=True)
    return 0


def print_floor(
    floor: dict[str, dict[str, float]], chain_alone_ms: float, chain_cpu_ms: float, chain_rate: float,
    ingress_ms: float,
) -> None:
    """The floor of this design for an auto case, from what one storage request costs and chain5 in this
    run (module docstring): latency = chain5 alone + the case's sequential storage round trips (and the
    ingress, ``ingress_ms``, the p50 of one ``POST /api/events`` at a time); CPU = one
    chain5's + its storage requests' (client and Azurite); the rate if only the host process's share
    were the limit (Azurite on the other core)."""
    print("== floor of this design (auto case; no app code, ingress, webhook or replay counted)")
    for kind, cost in floor.items():
        print(f"storage {kind:10}  p50 {cost['wall_ms']:5.2f} ms  CPU {cost['client_cpu_ms']:5.2f} ms client "
              f"+ {cost['azurite_cpu_ms']:5.2f} ms Azurite")
    wall = statistics.mean(c["wall_ms"] for c in floor.values())
    latency = chain_alone_ms + AUTO_CASE_SEQUENTIAL * wall
    client = sum(n * floor[k]["client_cpu_ms"] for k, n in AUTO_CASE_REQUESTS.items())
    server = sum(n * floor[k]["azurite_cpu_ms"] for k, n in AUTO_CASE_REQUESTS.items())
    print(f"received -> completed floor: {latency:.1f} ms = chain5 alone {chain_alone_ms:.1f} + "
          f"{AUTO_CASE_SEQUENTIAL} sequential storage requests x {wall:.2f} ms; "
          f"{latency / chain_alone_ms:.2f}x "
          f"chain5 alone (target <= 3); with this run's ingress p50 ({ingress_ms:.1f} ms, one at a time): "
          f"{(latency + ingress_ms) / chain_alone_ms:.2f}x")
    print(f"case cost floor by CPU: {(chain_cpu_ms + client + server) / chain_cpu_ms:.2f} chain5 "
          f"orchestrations (chain5 {chain_cpu_ms:.2f} + storage {client:.2f} client + {server:.2f} Azurite "
          f"ms); by the host process alone: {(chain_cpu_ms + client) / chain_cpu_ms:.2f} "
          f"(<= {1000 / (chain_cpu_ms + client):.0f} cases/s on one core; target <= 4, "
          f"{chain_rate / 4:.0f} cases/s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auto", type=int, default=40, help="auto cases one at a time")
    parser.add_argument("--approved", type=int, default=10, help="approved cases one at a time")
    parser.add_argument("--github", type=int, default=10, help="GitHub cases one at a time (half approved)")
    parser.add_argument("--burst", type=int, default=200, help="cases in each 16-sender burst")
    parser.add_argument("--senders", type=int, default=16, help="sender threads in the bursts")
    parser.add_argument("--chain", type=int, default=200, help="chain5 orchestrations for the rate")
    parser.add_argument("--chain-alone", type=int, default=30, help="chain5 orchestrations run alone")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted cases of each kind first")
    parser.add_argument("--dump-history", type=Path, help="write one case history of each kind here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the bench still runs")
    parser.add_argument("--storage-rtt-ms", type=float, default=0.0,
                        help="delay each storage request of the app by this round trip (a remote account)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.auto, args.approved, args.github, args.burst = 2, 1, 2, 6
        args.senders, args.chain, args.chain_alone, args.warmup = 4, 5, 2, 1
    with tempfile.NamedTemporaryFile(prefix="bench-cases-", suffix=".log", delete=False) as log:
        print(f"host and app logs: {log.name}", flush=True)
    # the log lines are written as usual (their cost is part of a case), to a file instead of the terminal
    logging.basicConfig(level=logging.WARNING, filename=log.name)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop Azurite and the hosts on SIGTERM too
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
