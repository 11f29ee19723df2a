"""Crash during apply: devhost is killed (SIGKILL) while the webhook call is in flight, then restarted.

The downstream holds the first request open so the kill lands between "the action reached the receiver"
and "the ledger recorded the result". After the restart the activity runs again; the ledger finds the
stale "started" claim and re-acts with the same Idempotency-Key, which the receiver honours: the side effect
reached the downstream exactly once.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from devhost.testing import start_subprocess, wait_for
from shared.adapters import idempotency_key
from tests.e2e.case_harness import REPO, app_settings, plain_event, principal, write_policy

pytestmark = [pytest.mark.azurite, pytest.mark.slow, pytest.mark.subprocess]


class HeldReceiver:
    """Idempotent webhook receiver whose first request is held until :meth:`release`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.effects: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.gate = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with receiver.lock:
                    first = not receiver.requests
                    receiver.requests.append({"key": key, "body": json.loads(body or b"null")})
                if first:
                    receiver.gate.wait(60)
                with receiver.lock:
                    response = receiver.effects.setdefault(key, {"applied": len(receiver.effects) + 1})
                raw = json.dumps(response).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the caller was killed meanwhile

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def test_kill_during_apply_then_restart_applies_exactly_once(azurite, tmp_path):
    """SIGKILL while the downstream call is in flight; after a restart the case completes, one effect."""
    receiver = HeldReceiver()
    policy = write_policy(
        tmp_path / "policy.json", receiver.url, retry={"first_retry_interval_s": 2, "max_attempts": 8}
    )
    env = app_settings(azurite, policy, receiver.url)
    data_dir = tmp_path / "data"
    reader = principal("auditor", "auditor")
    first = start_subprocess(REPO, data_dir=data_dir, clock="system", env=env)
    second = None
    try:
        base = first.wait_ready(60)
        r = httpx.post(
            f"{base}/api/events", json=plain_event("crash-1", "order.cancel", amount=5), timeout=30
        )
        assert r.status_code == 202, r.text
        case_id = r.json()["instanceId"]
        wait_for(lambda: receiver.requests, timeout_s=60, message="the apply call reached the receiver")
        first.kill()
        receiver.release()

        second = start_subprocess(REPO, data_dir=data_dir, clock="system", env=env)
        base = second.wait_ready(60)

        def finished():
            view = httpx.get(f"{base}/api/cases/{case_id}", headers=reader, timeout=30)
            body = view.json() if view.status_code == 200 else {}
            return body if body.get("stage") in ("completed", "failed") else None

        view = wait_for(finished, timeout_s=90, interval_s=0.2, message="case finished after restart")
        assert view["stage"] == "completed", view["outcome"]
        assert len(receiver.effects) == 1, "the side effect reached the downstream exactly once"
        assert {r["key"] for r in receiver.requests} == {idempotency_key("e2e", "crash-1", "order.cancel")}
        assert len(receiver.requests) >= 2, "the apply ran again after the crash (same key)"
        assert view["outcome"]["result"]["attempts"] >= 2
    finally:
        for proc in (first, second):
            if proc is not None and proc.proc.poll() is None:
                proc.terminate()
        receiver.close()
