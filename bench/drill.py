"""The recovery drill (issue 10): cases in flight survive kill -9 of the host and a storage outage.

Runs the real ``function_app.py`` on devhost as a *subprocess* (system clock, SQLite task hub on disk)
against a dedicated Azurite (data on disk, fixed ports after its first start) and a local downstream HTTP
server that counts effects by ``Idempotency-Key`` (honouring the key like a real receiver, and counting
every request too). The policy is the e2e test policy (``tests/e2e/case_harness.write_policy``: business
tools switched to the webhook adapter aimed at the downstream) with a short retry interval and a 10 s cap
on the infrastructure backoff, so recovery after the outage is quick.

The drill:

1. starts ``--cases`` cases over HTTP (``POST /api/events``): 60 % ``order.cancel`` (no approval, one
   webhook effect), 40 % ``account.change`` (privileged: waits for one approver);
2. a scripted approver ``bob`` approves each waiting case after a random delay, through the app's decision
   endpoint (``POST /api/cases/{id}/decision``) with App Service Authentication principal headers
   (``shared.identity.encode_principal``), retrying while the host is down; every 202 is remembered;
3. meanwhile ``--kills`` times at random moments: ``kill -9`` the host and start it again at once; and
   once, between two kills, Azurite is stopped for ``--azurite-stop`` seconds (``--azurite-kill``: with
   SIGKILL, which can lose its most recent writes, e.g. ledger rows), then started again on the same ports
   with the same data;
4. waits until every case is terminal (or ``--timeout``).

Printed (and as JSON with ``--json``): cases in the right end state (every case ``completed``, approval
cases approved by bob), effects applied exactly once (one effect per case key, no key for a case twice,
and how many duplicate deliveries the keys absorbed), decisions lost (a decision answered 202 that the
case does not count), time to recover (from the end of the last fault to the last case finishing).
The exit status is 0 only when every check holds.

Usage: ``.venv/bin/python bench/drill.py [--cases 50] [--kills 5] [--azurite-stop 60] [--seed N]``
(``make drill``); ``--cases 8 --kills 2 --azurite-stop 2 --window 5`` is the reduced run ``make test`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from devhost.storage.azurite import AzuriteProcess  # noqa: E402
from devhost.testing import DevhostProcess, start_subprocess  # noqa: E402
from shared.adapters import idempotency_key  # noqa: E402
from tests.e2e.case_harness import app_settings, plain_event, principal, write_policy  # noqa: E402

BOB = principal("bob", "approver")
READER = principal("auditor", "auditor")  # the policy's reader role (readers: [auditor])
TERMINAL = frozenset({"completed", "rejected", "expired", "failed"})


class Downstream:
    """A webhook receiver honouring ``Idempotency-Key``: ``effects`` maps a key to its one effect,
    ``requests`` counts every request per key. Each request takes ``delay_s`` so applies are in flight
    when the host is killed."""

    def __init__(self, delay_s: float = 0.2) -> None:
        self.effects: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, int] = {}
        self.lock = threading.Lock()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                time.sleep(delay_s)
                with state.lock:
                    state.requests[key] = state.requests.get(key, 0) + 1
                    response = state.effects.setdefault(key, {"applied": len(state.effects) + 1})
                raw = json.dumps(response).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the host was killed meanwhile

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Case:
    """One drill case: its event, kind (auto | approval), instance id, decision and final view."""

    event_id: str
    kind: str
    case_id: str | None = None
    decide_after: float = 0.0
    decided: bool = False  # a decision was answered 202
    view: dict[str, Any] = field(default_factory=dict)
    done_at: float | None = None  # monotonic time its terminal stage was first seen

    @property
    def action(self) -> str:
        """The event type sent."""
        return "order.cancel" if self.kind == "auto" else "account.change"

    @property
    def key(self) -> str | None:
        """The idempotency key the case's effect must carry: derived from the event and the action the
        policy chose (``outcome.action``); None before the case has an outcome."""
        action = (self.view.get("outcome") or {}).get("action")
        return idempotency_key("e2e", self.event_id, action) if action else None


class Host:
    """The devhost subprocess, restartable; ``base`` is None while it is down."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env = data_dir, env
        self.proc: DevhostProcess | None = None
        self.base: str | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        proc = start_subprocess(REPO, data_dir=self.data_dir, clock="system", env=self.env)
        base = proc.wait_ready(120)
        with self.lock:
            self.proc, self.base = proc, base

    def kill(self) -> None:
        with self.lock:
            proc, self.proc, self.base = self.proc, None, None
        if proc is not None:
            proc.kill()

    def stop(self) -> None:
        with self.lock:
            proc, self.proc, self.base = self.proc, None, None
        if proc is not None:
            proc.terminate(30)

    def url(self) -> str | None:
        with self.lock:
            return self.base


def _get(client: httpx.Client, host: Host, path: str) -> httpx.Response | None:
    base = host.url()
    if base is None:
        return None
    try:
        return client.get(f"{base}{path}", headers=READER)
    except httpx.HTTPError:
        return None


def send_cases(client: httpx.Client, host: Host, cases: list[Case]) -> None:
    """POST every event (retrying while the host is down): each gets its instance id."""
    for case in cases:
        while case.case_id is None:
            base = host.url()
            try:
                if base is not None:
                    amount = 20 if case.kind == "auto" else 0
                    r = client.post(f"{base}/api/events", json=plain_event(case.event_id, case.action,
                                                                           amount=amount))
                    if r.status_code == 202:
                        case.case_id = r.json()["instanceId"]
                        continue
            except httpx.HTTPError:
                pass
            time.sleep(0.2)


def approver(
    client: httpx.Client, host: Host, cases: list[Case], started: float, stop: threading.Event
) -> None:
    """bob approves each approval case once it is pending and its delay passed; retries while the host
    or storage is down, remembers every 202."""
    while not stop.is_set():
        waiting = [c for c in cases if c.kind == "approval" and not c.decided and c.case_id]
        if not waiting and all(c.case_id for c in cases):
            return
        for case in waiting:
            if time.monotonic() - started < case.decide_after:
                continue
            view = _get(client, host, f"/api/cases/{case.case_id}")
            if view is None or view.status_code != 200:
                continue
            body = view.json()
            if body.get("stage") != "awaiting_approval" or body.get("approvalProgress") is None:
                continue
            base = host.url()
            if base is None:
                break
            try:
                r = client.post(f"{base}/api/cases/{case.case_id}/decision", headers=BOB,
                                json={"decision": "approve", "reason": "drill"})
            except httpx.HTTPError:
                continue
            if r.status_code == 202:
                case.decided = True
        stop.wait(0.2)


def finished(client: httpx.Client, host: Host, cases: list[Case]) -> bool:
    """Refresh every unfinished case's view; True when all are terminal."""
    done = True
    for case in cases:
        if case.view.get("stage") in TERMINAL:
            continue
        r = _get(client, host, f"/api/cases/{case.case_id}") if case.case_id else None
        if r is not None and r.status_code == 200:
            case.view = r.json()
        if case.view.get("stage") not in TERMINAL:
            done = False
        elif case.done_at is None:
            case.done_at = time.monotonic()
    return done


def watch(client: httpx.Client, host: Host, cases: list[Case], stop: threading.Event) -> None:
    """Poll the cases every 0.5 s for the whole drill, so each case's finishing time is known."""
    client = httpx.Client(timeout=10)
    try:
        while not stop.is_set() and not (all(c.case_id for c in cases) and finished(client, host, cases)):
            stop.wait(0.5)
    finally:
        client.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the drill (see the module docstring); returns the report."""
    rng = random.Random(args.seed)
    work = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="drill-"))
    storage = AzuriteProcess(location=work / "azurite-data", ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = storage.start()
    downstream = Downstream(args.apply_delay)
    retry = {"first_retry_interval_s": 1, "max_attempts": 3, "infra_max_interval_s": 10}
    policy = write_policy(work / "policy.json", downstream.url, retry=retry)

    class Storage:
        connection_string = endpoints.connection_string

        @staticmethod
        def unique(prefix: str) -> str:
            return f"{prefix}-drill"

    env = app_settings(Storage, policy, downstream.url)
    env["CASE_MAINTENANCE_SCHEDULE"] = "0 0 0 1 1 *"
    host = Host(work / "devhost", env)
    cases = [
        Case(f"drill-{args.seed}-{i}", "approval" if rng.random() < 0.4 else "auto",
             decide_after=rng.uniform(0, args.window))
        for i in range(args.cases)
    ]
    # Fault schedule: kill moments spread over the window; the outage starts after the first kill and
    # no kill falls inside it (a host started during the outage would start its own Azurite).
    kills = sorted(rng.uniform(1.0, args.window) for _ in range(args.kills))
    outage_at = (kills[0] + 0.5) if kills else 1.0
    if args.azurite_stop > 0:
        kills = [k if k < outage_at else k + args.azurite_stop + 1.0 for k in kills]
    log = print if not args.quiet else (lambda *a, **k: None)
    report: dict[str, Any] = {"cases": args.cases, "kills": args.kills, "azurite_stop_s": args.azurite_stop,
                              "seed": args.seed}
    stop = threading.Event()
    client = httpx.Client(timeout=30)
    try:
        host.start()
        started = time.monotonic()
        log(f"drill: {args.cases} cases, {args.kills} kills at {[round(k, 1) for k in kills]} s, Azurite "
            f"down {args.azurite_stop} s from {outage_at:.1f} s; work dir {work}")
        sender = threading.Thread(target=send_cases, args=(client, host, cases), daemon=True)
        sender.start()
        deciding = threading.Thread(target=approver, args=(client, host, cases, started, stop), daemon=True)
        deciding.start()
        watcher = threading.Thread(target=watch, args=(client, host, cases, stop), daemon=True)
        watcher.start()
        fault_ends: list[float] = []
        faults = [(k, "kill") for k in kills]
        if args.azurite_stop > 0:
            faults.append((outage_at, "outage"))
        last_fault_end = started
        for at, kind in sorted(faults):
            time.sleep(max(0.0, started + at - time.monotonic()))
            if kind == "kill":
                host.kill()
                log(f"  {time.monotonic() - started:6.1f} s  kill -9 devhost; restarting")
                host.start()
            else:
                if args.azurite_kill and storage.pid is not None:
                    os.kill(storage.pid, signal.SIGKILL)  # no flush: its latest writes may be lost
                storage.stop()
                how = "killed (-9)" if args.azurite_kill else "stopped"
                log(f"  {time.monotonic() - started:6.1f} s  Azurite {how} for {args.azurite_stop} s")
                time.sleep(args.azurite_stop)
                storage = AzuriteProcess(location=work / "azurite-data", ports=storage.ports)
                storage.start()
                log(f"  {time.monotonic() - started:6.1f} s  Azurite started again")
            last_fault_end = time.monotonic()
            fault_ends.append(last_fault_end)
        sender.join(args.timeout)
        deadline = time.monotonic() + args.timeout
        while not finished(client, host, cases) and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        deciding.join(10)
        watcher.join(10)
        all_done = max((c.done_at for c in cases if c.done_at is not None), default=time.monotonic())
        # recovery: from the end of the last fault that still found cases in flight to the last case done
        hit = [t for t in fault_ends if any(c.done_at is None or c.done_at > t for c in cases)]
        last_fault_end = max(hit, default=started)
    finally:
        stop.set()
        client.close()
        host.stop()
        storage.stop()
        downstream.close()

    right = [c for c in cases if c.view.get("stage") == "completed"
             and (c.kind == "auto" or "bob" in ((c.view.get("outcome") or {}).get("approvers") or []))]
    wrong = [{"case": c.case_id, "kind": c.kind, "stage": c.view.get("stage"),
              "reason": (c.view.get("outcome") or {}).get("reason")} for c in cases if c not in right]
    expected_keys = {c.key for c in cases if c.key}
    def recorded_key(case: Case) -> Any:
        return ((case.view.get("outcome") or {}).get("result") or {}).get("key")

    effects_once = [c for c in cases if c.key in downstream.effects and recorded_key(c) == c.key]
    stray = sorted(set(downstream.effects) - expected_keys)
    lost = [c.case_id for c in cases if c.decided and c not in right]
    report.update({
        "right_end_state": len(right),
        "wrong": wrong,
        "effects": len(downstream.effects),
        "effects_exactly_once": len(effects_once) == len(cases) and not stray,
        "stray_effect_keys": stray,
        "duplicate_deliveries_absorbed": sum(downstream.requests.values()) - len(downstream.requests),
        "decisions_accepted": sum(c.decided for c in cases),
        "decisions_lost": len(lost),
        "time_to_recover_s": round(all_done - last_fault_end, 1),
        "total_s": round(all_done - started, 1),
        "faults_hitting_cases_in_flight": len(hit),
    })
    report["ok"] = (len(right) == len(cases) and report["effects_exactly_once"] and not lost)
    return report


def build_parser() -> argparse.ArgumentParser:
    """The drill's command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--azurite-stop", type=float, default=60.0, help="seconds Azurite stays down")
    parser.add_argument("--azurite-kill", action="store_true",
                        help="stop Azurite with SIGKILL (may lose its latest writes) instead of SIGTERM")
    parser.add_argument("--window", type=float, default=30.0, help="seconds over which kills are spread")
    parser.add_argument("--apply-delay", type=float, default=0.2, help="seconds each downstream call takes")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the drill and print the report; exit status 0 only when every check holds."""
    args = build_parser().parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"cases in the right end state: {report['right_end_state']}/{report['cases']}")
        print(f"effects applied exactly once: {'yes' if report['effects_exactly_once'] else 'NO'} "
              f"({report['effects']} effects, {report['duplicate_deliveries_absorbed']} duplicate "
              "deliveries absorbed by the Idempotency-Key)")
        print(f"decisions lost: {report['decisions_lost']} of {report['decisions_accepted']} accepted")
        print(f"time to recover: {report['time_to_recover_s']} s from the end of the last fault that found "
              f"cases in flight to the last case done (all done {report['total_s']} s into the drill)")
        for w in report["wrong"]:
            print(f"  wrong: {w}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
