"""The /admin endpoints func start serves locally, and devhost's /admin/clock."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.testing import HostThread, run_host, wait_for
from tests.devhost.fakes import FakeExtension, FakeWithoutAdmin
from tests.fixtures.paths import APPS


@pytest.fixture(scope="module")
def fake() -> FakeExtension:
    return FakeExtension(blobs={"config/hello.txt": "cfg-for-hello",
                                "config/db-primary.txt": "db-primary-config"})


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, fake: FakeExtension) -> Iterator[HostThread]:
    with run_host(APPS / "http_mixed", data_dir=tmp_path_factory.mktemp("mixed"), clock="virtual-manual",
                  extensions=[fake]) as host:
        yield host


@pytest.fixture
def http(mixed: HostThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mixed.base_url, timeout=10) as c:
        yield c


def test_host_status(http: httpx.Client) -> None:
    """GET /admin/host/status: 200 with id, state Running and a version."""
    body = http.get("/admin/host/status").json()
    assert body["state"] == "Running"
    assert len(body["id"]) == 32 and body["version"]
    assert isinstance(body["processUptime"], int)
    assert http.get("/admin/host/ping").status_code == 200


def test_function_list(http: httpx.Client, mixed: HostThread) -> None:
    """GET /admin/functions: every function with its bindings; HTTP ones with their invoke URL."""
    listing = {f["name"]: f for f in http.get("/admin/functions").json()}
    assert set(listing) == {"ping", "worker", "forward", "returns_value", "tick", "echo_activity", "quiet",
                            "flaky", "read_config"}
    assert listing["ping"]["invoke_url_template"] == f"{mixed.base_url}/api/ping"
    assert listing["tick"]["invoke_url_template"] is None
    types = [b["type"] for b in listing["worker"]["config"]["bindings"]]
    assert sorted(types) == ["blob", "queue", "queueTrigger"]
    assert listing["worker"]["language"] == "python" and listing["worker"]["isDisabled"] is False


def test_one_function_and_unknown(http: httpx.Client) -> None:
    """GET /admin/functions/{name} is case-insensitive; unknown names are 404 naming the known ones."""
    assert http.get("/admin/functions/TICK").json()["name"] == "tick"
    missing = http.get("/admin/functions/nope")
    assert missing.status_code == 404
    assert "tick" in missing.json()["functions"] and "nope" in missing.json()["error"]


def test_invoke_non_http_function_through_its_extension(http: httpx.Client, fake: FakeExtension) -> None:
    """POST /admin/functions/{name} → 202; the owning extension's admin_invoke runs it; the input
    binding is resolved and the output written by the extension after success."""
    r = http.post("/admin/functions/worker", json={"input": "hello"})
    assert r.status_code == 202
    wait_for(lambda: ("worker", "results", "hello|cfg-for-hello") in fake.writes, 5, message="output write")
    assert ("worker", "hello") in fake.admin_calls


def test_invoke_errors(http: httpx.Client) -> None:
    """Unknown function → 404; no or non-JSON body → 400."""
    missing = http.post("/admin/functions/nope", json={"input": "x"})
    assert missing.status_code == 404 and "worker" in missing.json()["functions"]
    assert http.post("/admin/functions/worker").status_code == 400
    assert http.post("/admin/functions/worker", content=b"not json").status_code == 400


def test_invoke_http_function_by_hand(http: httpx.Client, mixed: HostThread) -> None:
    """An HTTP function invoked through the admin API receives the input as a POST body."""
    before = mixed.host.invoker.in_flight
    assert http.post("/admin/functions/ping", json={"input": "hi"}).status_code == 202
    wait_for(lambda: mixed.host.invoker.in_flight == before, 5)


def test_clock_endpoints(http: httpx.Client) -> None:
    """GET/POST /admin/clock read and move the virtual clock."""
    state = http.get("/admin/clock").json()
    assert state["kind"] == "virtual" and state["autoAdvance"] is False
    moved = http.post("/admin/clock", json={"advanceSeconds": 90}).json()
    from datetime import datetime

    delta = datetime.fromisoformat(moved["now"]) - datetime.fromisoformat(state["now"])
    assert delta.total_seconds() == 90
    assert http.post("/admin/clock", json={"autoAdvance": True}).json()["autoAdvance"] is True
    assert http.post("/admin/clock", json={"autoAdvance": False}).json()["autoAdvance"] is False
    assert http.post("/admin/clock", json={"advanceToNext": True}).status_code == 200
    assert http.post("/admin/clock", json={}).status_code == 400
    assert http.post("/admin/clock", json={"advanceSeconds": -5}).status_code == 400


def test_clock_endpoint_refuses_the_system_clock(tmp_path: Path) -> None:
    """With the system clock, moving time is a 400."""
    with run_host(APPS / "http_mixed", data_dir=tmp_path, extensions=[FakeExtension()]) as host:
        assert httpx.get(f"{host.base_url}/admin/clock").json()["kind"] == "system"
        r = httpx.post(f"{host.base_url}/admin/clock", json={"advanceSeconds": 1})
        assert r.status_code == 400 and "system clock" in r.json()["error"]


def test_invoke_without_admin_hook_passes_the_input_as_trigger_value(tmp_path: Path) -> None:
    """An extension without admin_invoke: the host invokes with the input string as trigger value."""
    fake = FakeWithoutAdmin()
    with run_host(APPS / "http_mixed", data_dir=tmp_path, extensions=[fake]) as host:
        r = httpx.post(f"{host.base_url}/admin/functions/forward", json={"input": "abc"})
        assert r.status_code == 202
        wait_for(lambda: ("forward", "forwarded", "ABC") in fake.writes, 5, message="$return output write")


def test_http_binding_data_from_route_and_json_body(http: httpx.Client) -> None:
    """Binding expressions see route values and top-level JSON body properties."""
    r = http.post("/api/config/db", json={"name": "primary"})
    assert r.text == "db-primary-config"
    assert http.post("/api/config/db", json={"name": "other"}).text == "<missing>"
