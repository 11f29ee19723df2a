"""Local downstream servers for adapter tests: a webhook receiver and a tiny GitHub deployment-statuses API.

Both run ``http.server`` in a daemon thread on 127.0.0.1 with an OS-chosen port and record every request.
``Downstream.fail_next(status, n)`` makes the next n requests answer ``status``; ``honour_idempotency``
makes the webhook receiver answer a repeated ``Idempotency-Key`` with the first response without counting
a new effect (as an idempotent receiver does). Other test areas (e2e) may import this module.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Downstream:
    """State shared with the handler: requests seen, effects applied, scripted failures."""

    honour_idempotency: bool = True
    requests: list[Received] = field(default_factory=list)
    effects: dict[str, Any] = field(default_factory=dict)  # idempotency key -> first response
    statuses: list[dict[str, Any]] = field(default_factory=list)  # GitHub deployment statuses
    failures: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def fail_next(self, status: int, n: int = 1) -> None:
        """Answer the next ``n`` requests with ``status`` (no effect applied)."""
        with self.lock:
            self.failures.extend([status] * n)

    def posts(self) -> list[Received]:
        """The POST requests received so far."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]


def _handler(state: Downstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _record(self) -> tuple[Received, int | None]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            received = Received(
                self.command, self.path, dict(self.headers.items()), json.loads(raw) if raw else None
            )
            with state.lock:
                state.requests.append(received)
                failure = state.failures.pop(0) if state.failures else None
            return received, failure

        def do_GET(self) -> None:
            _, failure = self._record()
            if failure:
                self._reply(failure, {"message": "scripted failure"})
                return
            with state.lock:
                self._reply(200, list(state.statuses))

        def do_POST(self) -> None:
            received, failure = self._record()
            if failure:
                self._reply(failure, {"message": "scripted failure"})
                return
            if self.path.endswith("/statuses"):
                with state.lock:
                    status = {
                        "id": len(state.statuses) + 1,
                        "url": state.url + self.path,
                        **(received.body or {}),
                    }
                    state.statuses.insert(0, status)
                self._reply(201, status)
                return
            key = self.headers.get("Idempotency-Key") or ""
            with state.lock:
                if state.honour_idempotency and key in state.effects:
                    response = state.effects[key]
                else:
                    response = {"applied": len(state.effects) + 1, "key": key}
                    state.effects.setdefault(key, response)
            self._reply(200, response)

    return Handler


class DownstreamServer:
    """Context manager running a :class:`Downstream` on a free loopback port; ``.state.url`` is its base."""

    def __init__(self, honour_idempotency: bool = True) -> None:
        self.state = Downstream(honour_idempotency=honour_idempotency)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.state.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Downstream:
        self._thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
