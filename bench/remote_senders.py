"""The auto burst of ``bench/cases.py`` sent from another process, as remote clients would send it.

``bench/cases.py``'s bursts run their sender threads (httpx clients, and the wait for each case) inside the
host process: their CPU (~3 ms per case) and their GIL hand-offs count as the case's. Clients of a real
deployment are remote, and the chain5 reference starts its orchestrations in-process without any client, so
:func:`remote_burst` sends the same plain ``order.cancel`` events over ``POST /api/events`` from
``senders`` threads of a separate process (``multiprocessing`` spawn) and awaits the cases in the host
process on its event loop (``TaskHub.wait_for_completion``, no polling). Cases/s is cases ÷ (first send →
last case completed, by the task hub's completion time; both on the system clock).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.measure import TIMEOUT_S

Row = tuple[str, float, float]  # (case id, ingress ms, time.time() at send)


def _send_auto(base_url: str, count: int, senders: int, out: Any) -> None:
    """Child process: POST ``count`` auto events from ``senders`` threads; puts (rows, CPU s of sending)."""
    import httpx

    from tests.e2e.case_harness import plain_event

    local = threading.local()

    def one(_: int) -> Row:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=60)
        tag = uuid.uuid4().hex[:12]
        body = plain_event(f"cancel-{tag}", "order.cancel", requester="dana", amount=20, order=tag)
        sent_wall, sent = time.time(), time.perf_counter()
        r = client.post(f"{base_url}/api/events", json=body)
        took = (time.perf_counter() - sent) * 1000
        if r.status_code != 202:
            raise RuntimeError(f"POST /api/events answered {r.status_code}: {r.text}")
        return r.json()["instanceId"], took, sent_wall

    cpu = time.process_time()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        rows = list(pool.map(one, range(count)))
    out.put((rows, time.process_time() - cpu))


def remote_burst(host: Any, hub: Any, base_url: str, count: int, senders: int) -> dict[str, Any]:
    """``count`` auto cases sent by ``senders`` threads of another process to ``base_url``; ``host`` is
    the :func:`devhost.testing.run_host` handle (``call``), ``hub`` its task hub. Returns ``rows`` (dicts
    with ``id`` and ``ingress_ms``), ``rate`` (cases/s) and ``sender_cpu_ms`` (the sender process's CPU
    per case while sending). Raises RuntimeError when a case does not complete."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_send_auto, args=(base_url, count, senders, out), daemon=True)
    child.start()
    try:
        rows, sender_cpu_s = out.get(timeout=TIMEOUT_S)
    finally:
        child.join(timeout=30)
    done = 0.0
    for case_id, _, _ in rows:
        state = host.call(hub.wait_for_completion(case_id, TIMEOUT_S), TIMEOUT_S + 5)
        if state is None or state.runtime_status != "Completed":
            raise RuntimeError(f"case {case_id} ended {getattr(state, 'runtime_status', None)}")
        done = max(done, (state.completed_time or state.last_updated_time).timestamp())
    first = min(sent for _, _, sent in rows)
    return {
        "rows": [{"id": case_id, "ingress_ms": ms} for case_id, ms, _ in rows],
        "rate": count / (done - first),
        "sender_cpu_ms": sender_cpu_s * 1000 / count,
    }
