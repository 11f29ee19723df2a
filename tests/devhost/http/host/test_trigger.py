"""HTTP triggers end to end over real HTTP against an in-process devhost (tests/apps/http_basic)."""

import json
import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from devhost.testing import HostThread, run_host, wait_for
from tests.fixtures.paths import APPS


def test_route_params_and_app_settings_reach_the_function(client: httpx.Client) -> None:
    """``hello/{name}`` gets the route value; GREETING comes from local.settings.json Values."""
    r = client.get("/api/hello/World")
    assert (r.status_code, r.text) == (200, "Hello, World!")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_query_headers_and_binary_body_round_trip(client: httpx.Client) -> None:
    """Repeated query keys join with ',', empty ones drop; headers are case-insensitive; bytes are exact."""
    payload = bytes(range(256)) * 4
    r = client.post("/api/echo?a=1&b=&a=2&c=x%20y", content=payload,
                    headers={"x-TEST": "value", "Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    assert r.content == payload
    info = json.loads(r.headers["x-info"])
    assert info["params"] == {"a": "1,2", "c": "x y"}
    assert info["x_test"] == "value"
    assert info["method"] == "POST"
    assert info["length"] == len(payload)
    assert info["url"] == f"{client.base_url}/api/echo?a=1&b=&a=2&c=x%20y"
    assert r.headers["content-type"] == "application/octet-stream"


def test_put_is_accepted_and_get_is_not(client: httpx.Client) -> None:
    """echo accepts POST and PUT only; GET is a 404 as in the host (not 405)."""
    assert client.put("/api/echo", content=b"x").status_code == 201
    assert client.get("/api/echo").status_code == 404


def test_get_json(client: httpx.Client) -> None:
    """get_json parses the body; invalid JSON raises ValueError with the worker's message."""
    r = client.post("/api/json", json={"a": [1, 2]})
    assert r.json() == {"got": {"a": [1, 2]}}
    assert r.headers["content-type"] == "application/json"
    bad = client.post("/api/json", content=b"{nope")
    assert (bad.status_code, bad.text) == (400, "HTTP request does not contain valid JSON data")


def test_string_return_value(client: httpx.Client) -> None:
    """A plain str from $return is a 200 text/plain response."""
    r = client.get("/api/plain")
    assert (r.status_code, r.text, r.headers["content-type"]) == (200, "just a string",
                                                                 "text/plain; charset=utf-8")


def test_named_http_output(client: httpx.Client) -> None:
    """A named http output (binding_arg_name) set through func.Out is the response."""
    r = client.get("/api/named-output")
    assert (r.status_code, r.text) == (203, "from the named output")


def test_blueprint_function_with_function_name_and_catch_all(client: httpx.Client) -> None:
    """Blueprint functions are registered; function_name renames; the catch-all may be empty."""
    assert client.get("/api/bp/a/b/c").text == "a/b/c"
    assert client.get("/api/bp").text == "<none>"


def test_response_headers_cookies_and_custom_headers(client: httpx.Client) -> None:
    """Content-Type from headers wins over mimetype; each cookie is its own Set-Cookie; host.json
    customHeaders are added."""
    r = client.get("/api/cookies")
    assert r.status_code == 202
    assert r.headers["content-type"] == "application/vnd.test+json"
    assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.headers["x-custom"] == "yes"


def test_exception_is_500_with_empty_body_and_host_keeps_serving(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """An unhandled exception answers 500 with no body; the traceback is logged; next request works."""
    with caplog.at_level(logging.INFO, logger="Function.boom"):
        r = client.get("/api/boom")
    assert (r.status_code, r.content) == (500, b"")
    messages = [rec.getMessage() for rec in caplog.records]
    failed = [m for m in messages if "Executed 'Functions.boom' (Failed" in m]
    assert failed and "Exception: ValueError: boom" in failed[0]
    assert 'raise ValueError("boom")' in failed[0]
    assert client.get("/api/hello/again").status_code == 200


@pytest.mark.parametrize("path", ["/api/nothing", "/api/dict"])
def test_unsupported_return_values_are_500(client: httpx.Client, path: str) -> None:
    """None or a dict from an HTTP function cannot be encoded: the invocation fails (500)."""
    r = client.get(path)
    assert (r.status_code, r.content) == (500, b"")


def test_unknown_route_is_404_and_root_is_the_home_page(client: httpx.Client) -> None:
    """No function matches → 404 with an empty body; ``/`` shows the host's home page."""
    r = client.get("/api/does-not-exist")
    assert (r.status_code, r.content) == (404, b"")
    assert client.get("/hello/World").status_code == 404  # the prefix is required
    home = client.get("/")
    assert home.status_code == 200 and "up and running" in home.text


def test_context_is_injected(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    """func.Context carries the invocation id of the log lines, the app directory and a trace parent
    continuing an incoming traceparent header."""
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with caplog.at_level(logging.INFO, logger="Function.ctx"):
        body = client.get("/api/ctx", headers={"traceparent": incoming}).json()
    assert body["function_name"] == "ctx"
    assert body["function_directory"] == str((APPS / "http_basic").resolve())
    assert body["tls_invocation_id"] == body["invocation_id"]
    assert body["trace_parent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert body["retry_count"] == 0
    lines = [rec.getMessage() for rec in caplog.records]
    assert any(f"Executing 'Functions.ctx' (Reason='This function was programmatically called via the host "
               f"APIs.', Id={body['invocation_id']})" == line for line in lines)
    assert any(line.startswith(f"Executed 'Functions.ctx' (Succeeded, Id={body['invocation_id']}, Duration=")
               for line in lines)


def test_slow_sync_function_does_not_block_async_ones(client: httpx.Client, basic_host: HostThread) -> None:
    """Sync functions run in the thread pool: an async function answers while a sync one sleeps."""
    results: dict[str, float] = {}

    def slow() -> None:
        with httpx.Client(base_url=basic_host.base_url, timeout=20) as c:
            assert c.get("/api/slow-sync", params={"s": "3"}).text == "slept 3.0"
        results["slow_done"] = time.monotonic()

    thread = threading.Thread(target=slow)
    thread.start()
    wait_for(lambda: basic_host.host.invoker.in_flight >= 1, 5, message="slow-sync running")
    assert client.get("/api/fast-async").text == "fast"
    fast_done = time.monotonic()
    thread.join(20)
    assert results["slow_done"] > fast_done  # the async answer came while the sync one still slept


def test_async_functions_run_concurrently(basic_host: HostThread) -> None:
    """Three async functions sleeping at once are all in flight together (an event loop, no queue)."""
    times: list[float] = []

    def call() -> None:
        with httpx.Client(base_url=basic_host.base_url, timeout=20) as c:
            assert c.get("/api/slow-async", params={"s": "3"}).status_code == 200
        times.append(time.monotonic())

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    wait_for(lambda: basic_host.host.invoker.in_flight >= 3, 10, message="three async invocations at once")
    for t in threads:
        t.join(20)
    assert len(times) == 3


@pytest.mark.parametrize("path", ["/api/sleepy-sync", "/api/sleepy-async"])
def test_function_timeout(tmp_path: Path, caplog: pytest.LogCaptureFixture, path: str) -> None:
    """host.json functionTimeout 00:00:01 fails the invocation with the host's message (500)."""
    with (run_host(APPS / "http_timeout", data_dir=tmp_path, drain_timeout_s=1) as host,
          caplog.at_level(logging.INFO)):
        r = httpx.get(f"{host.base_url}{path}", params={"s": "3"}, timeout=20)
    assert (r.status_code, r.content) == (500, b"")  # the function itself would have answered 200
    name = path.rsplit("/", 1)[1].replace("-", "_")
    assert any(f"Timeout value of 00:00:01 was exceeded by function: Functions.{name}" in rec.getMessage()
               for rec in caplog.records)


def test_stop_drains_an_in_flight_request(tmp_path: Path) -> None:
    """Stopping the host lets a running request finish (200) before the server goes away."""
    outcome: dict[str, object] = {}
    host = HostThread(APPS / "http_basic", data_dir=tmp_path).start()

    def slow() -> None:
        try:
            r = httpx.get(f"{host.base_url}/api/slow-sync", params={"s": "1"}, timeout=10)
            outcome["status"] = r.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=slow)
    thread.start()
    wait_for(lambda: host.host.invoker.in_flight >= 1, 5, message="slow-sync running")
    base_url = host.base_url
    host.stop()
    thread.join(10)
    assert outcome == {"status": 200}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/api/hello/x", timeout=2)


def test_repeated_headers_are_joined_with_commas(client: httpx.Client) -> None:
    """Two X-Test headers reach the function as one value 'a,b' (host ToRpcHttp)."""
    r = client.post("/api/echo", content=b"", headers=[("X-Test", "a"), ("x-test", "b")])
    assert json.loads(r.headers["x-info"])["x_test"] == "a,b"


def test_served_connections_send_without_nagle_delay(client: httpx.Client, basic_host: HostThread) -> None:
    """Every accepted connection has TCP_NODELAY: on a kept-alive connection a response written in two
    parts (headers, then body) otherwise waits for the client's delayed ACK (~40 ms a request, the Durable
    client's calls to the host included). Checked on the server's own sockets, no timing involved."""
    import socket

    for _ in range(3):  # kept-alive: the same connection serves them all
        assert client.get("/api/hello/World").status_code == 200

    async def nodelay_flags() -> list[int]:
        assert basic_host.host is not None and basic_host.host._server is not None
        flags = []
        for protocol in basic_host.host._server.server_state.connections:
            sock = protocol.transport.get_extra_info("socket")
            flags.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return flags

    flags = basic_host.call(nodelay_flags())
    assert flags and all(flags), flags
