"""The adapters' shared HTTP client (shared/adapters/http_send.client_for): one per process, no cookies."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from shared.adapters.http_send import client_for


class _SetsCookies(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"cookie": self.headers.get("Cookie")}).encode()
        self.send_response(200)
        self.send_header("Set-Cookie", "sid=abc; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SetsCookies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_one_client_per_timeout_and_headers_and_no_cookie_is_sent_back(url: str) -> None:
    """Calls with the same timeout and headers share a client (its connections and SSL context); a cookie
    set by a downstream is never sent on a later call, as with a client of its own."""
    with client_for(5.0, headers={"X-A": "1"}) as first:
        assert first.get(url).json() == {"cookie": None}
    with client_for(5.0, headers={"X-A": "1"}) as second:
        assert second is first
        assert second.get(url).json() == {"cookie": None}
    with client_for(5.0, headers={"X-A": "2"}) as other:
        assert other is not first


def test_a_given_transport_gets_a_fresh_client_closed_after_the_call() -> None:
    """Tests hand adapters a transport: that call gets its own client, closed afterwards."""
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with client_for(5.0, transport) as client:
        assert client.get("http://downstream.test/").status_code == 204
    assert client.is_closed
