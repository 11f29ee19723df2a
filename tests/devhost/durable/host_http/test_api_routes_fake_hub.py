"""The Durable HTTP API's routing, status codes and bodies, against an in-memory fake task hub (no engine)."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette

from devhost.durable.http_api import routes
from tests.devhost.durable.host_http.durable_api_fakes import FakeHub, FakeState

BASE = "http://testserver/runtime/webhooks/durabletask"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
async def client(hub: FakeHub):
    app = Starlette(routes=routes(lambda: hub))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def test_start_returns_202_with_management_payload(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """A start answers 202 with the eight payload keys, Location and Retry-After: 10."""
    r = await client.post(f"{BASE}/orchestrators/hello/abc?code=k1", json={"a": 1})
    assert r.status_code == 202
    body = r.json()
    assert list(body) == ["id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri",
                          "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"]
    assert body["id"] == "abc"
    assert body["statusQueryGetUri"] == f"{BASE}/instances/abc?taskHub=TestHubName&connection=Storage&code=k1"
    assert body["terminatePostUri"].startswith(f"{BASE}/instances/abc/terminate?reason={{text}}&taskHub=")
    assert r.headers["location"] == body["statusQueryGetUri"]
    assert r.headers["retry-after"] == "10"
    assert hub.calls[0] == ("start_new", "hello", "abc", '{"a":1}', None)


async def test_start_passes_version_and_empty_body_as_none(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """An empty body is no input; ?version= is handed to the hub."""
    r = await client.post(f"{BASE}/Orchestrators/hello?version=2.0")
    assert r.status_code == 202
    assert hub.calls[0][3] is None and hub.calls[0][4] == "2.0"


async def test_start_bad_json_is_400(client: httpx.AsyncClient) -> None:
    """Non-JSON input → 400 "Invalid JSON content"."""
    r = await client.post(f"{BASE}/orchestrators/hello", content=b"{nope")
    assert r.status_code == 400
    assert r.json()["Message"] == "Invalid JSON content"


async def test_start_unknown_orchestrator_is_400_with_exception_message(client: httpx.AsyncClient) -> None:
    """The SDK reads ExceptionMessage from the 400 body."""
    r = await client.post(f"{BASE}/orchestrators/nope")
    assert r.status_code == 400
    assert r.json()["Message"] == "One or more of the arguments submitted is incorrect"
    assert "The function 'nope' doesn't exist" in r.json()["ExceptionMessage"]


async def test_start_over_running_instance_is_409(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """OrchestrationAlreadyExistsException → 409 Conflict."""
    hub.instances["x"] = FakeState("hello", "x", "Running")
    assert (await client.post(f"{BASE}/orchestrators/hello/x")).status_code == 409


async def test_start_get_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/orchestrators/hello")).status_code == 404


async def test_start_with_timeout_returns_output_when_completed(
    client: httpx.AsyncClient, hub: FakeHub
) -> None:
    """timeout + pollingInterval: a completed instance answers 200 with its output."""

    async def start_completed(name, iid, input_json, version=None):
        hub.instances["w"] = FakeState(name, "w", "Completed", output='{"done": true}')
        return "w"

    hub.start_new = start_completed  # type: ignore[method-assign]
    r = await client.post(f"{BASE}/orchestrators/hello?timeout=1&pollingInterval=0.05")
    assert r.status_code == 200 and r.json() == {"done": True}


async def test_start_with_timeout_times_out_to_202(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/orchestrators/hello?timeout=0.1&pollingInterval=0.02")
    assert r.status_code == 202 and "statusQueryGetUri" in r.json()


async def test_status_codes_by_runtime_status(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """404 unknown, 202 running (+Location, Retry-After 5), 200 completed, Failed 200 or 500 on request."""
    assert (await client.get(f"{BASE}/instances/none")).status_code == 404
    hub.instances["r"] = FakeState("hello", "r", "Running", input='"{\\"a\\": 1}"')
    r = await client.get(f"{BASE}/instances/r")
    assert r.status_code == 202 and r.headers["retry-after"] == "5"
    assert r.headers["location"] == f"{BASE}/instances/r"
    assert r.json() == {"name": "hello", "instanceId": "r", "runtimeStatus": "Running", "input": '{"a": 1}',
                        "customStatus": None, "output": None, "createdTime": "2024-01-01T12:00:00Z",
                        "lastUpdatedTime": "2024-01-01T12:00:05Z"}
    hub.instances["c"] = FakeState("hello", "c", "Completed", output="[1, 2]", custom_status='"s"')
    r = await client.get(f"{BASE}/instances/c?showInput=false")
    assert r.status_code == 200 and r.json()["output"] == [1, 2] and r.json()["customStatus"] == "s"
    failure = "Orchestrator function 'hello' failed: boom"
    hub.instances["f"] = FakeState("hello", "f", "Failed", output=failure)
    assert (await client.get(f"{BASE}/instances/f")).status_code == 200
    r = await client.get(f"{BASE}/instances/f?returnInternalServerErrorOnFailure=true")
    assert r.status_code == 500 and r.json()["output"] == "Orchestrator function 'hello' failed: boom"


async def test_status_show_history(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """showHistory adds historyEvents; Result appears only with showHistoryOutput."""
    hub.instances["h"] = FakeState("hello", "h", "Completed", output='"x"')
    hub.histories["h"] = [
        {"EventType": 12, "EventId": -1, "IsPlayed": True, "Timestamp": "t0"},
        {"EventType": 0, "EventId": -1, "IsPlayed": True, "Timestamp": "t0", "Name": "hello",
         "Version": "", "Input": None, "OrchestrationInstance": {"InstanceId": "h"}},
        {"EventType": 4, "EventId": 0, "IsPlayed": True, "Timestamp": "t1", "Name": "act", "Input": '"a"'},
        {"EventType": 5, "EventId": -1, "IsPlayed": True, "Timestamp": "t2", "TaskScheduledId": 0,
         "Result": '"x"'},
        {"EventType": 1, "EventId": -1, "IsPlayed": False, "Timestamp": "t3", "OrchestrationStatus": 1,
         "Result": '"x"'},
    ]
    r = await client.get(f"{BASE}/instances/h?showHistory=true")
    assert [e["EventType"] for e in r.json()["historyEvents"]] == [
        "ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert "Result" not in r.json()["historyEvents"][1]
    r = await client.get(f"{BASE}/instances/h?showHistory=True&showHistoryOutput=True")
    assert r.json()["historyEvents"][1] == {"EventType": "TaskCompleted", "Timestamp": "t2", "Result": "x",
                                            "FunctionName": "act", "ScheduledTime": "t1", "Input": '"a"'}
    assert "historyEvents" not in (await client.get(f"{BASE}/instances/h")).json()


async def test_query_paging_with_continuation_token(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """top limits the page; x-ms-continuation-token fetches the next; filters reach the hub."""
    for i in range(3):
        hub.instances[f"p{i}"] = FakeState("hello", f"p{i}", "Running")
    r = await client.get(f"{BASE}/instances/?top=2&runtimeStatus=Running,bogus"
                         "&createdTimeFrom=2024-01-01T00:00:00.000000Z&instanceIdPrefix=p")
    assert r.status_code == 200 and [s["instanceId"] for s in r.json()] == ["p0", "p1"]
    token = r.headers["x-ms-continuation-token"]
    call = hub.calls[-1]
    assert call[3] == ["Running"] and call[4] == "p" and call[1].year == 2024
    r = await client.get(f"{BASE}/instances?top=2", headers={"x-ms-continuation-token": token})
    assert [s["instanceId"] for s in r.json()] == ["p2"]
    assert "x-ms-continuation-token" not in r.headers


async def test_raise_event_codes(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """202 running; 404 unknown; 410 finished; 400 without application/json; body re-serialised."""
    hub.instances["r"] = FakeState("hello", "r", "Running")
    hub.instances["c"] = FakeState("hello", "c", "Completed")
    assert (await client.post(f"{BASE}/instances/none/raiseEvent/E", json=1)).status_code == 404
    assert (await client.post(f"{BASE}/instances/c/raiseEvent/E", json=1)).status_code == 410
    r = await client.post(f"{BASE}/instances/r/raiseEvent/E", content=b"1",
                          headers={"content-type": "text/plain"})
    assert r.status_code == 400
    assert r.json()["Message"] == "Only application/json request content is supported"
    r = await client.post(f"{BASE}/instances/r/RAISEEVENT/E", content=b"{bad",
                          headers={"content-type": "application/json"})
    assert r.status_code == 400
    body = json.dumps(json.dumps({"ok": 1}))
    r = await client.post(f"{BASE}/instances/r/raiseEvent/Approval", content=body,
                          headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 202
    assert hub.calls[-1] == ("raise_event", "r", "Approval", json.dumps('{"ok": 1}'))


async def test_terminate_suspend_resume_codes(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """202 / 404 / 410 / 500 (operation not valid in this state); reason reaches the hub."""
    hub.instances["r"] = FakeState("hello", "r", "Running")
    hub.instances["c"] = FakeState("hello", "c", "Terminated")
    assert (await client.post(f"{BASE}/instances/r/terminate?reason=stop+now")).status_code == 202
    assert hub.calls[-1] == ("terminate", "r", "stop now")
    assert (await client.post(f"{BASE}/instances/none/Suspend")).status_code == 404
    assert (await client.post(f"{BASE}/instances/c/resume")).status_code == 410
    r = await client.post(f"{BASE}/instances/r/resume?reason=x")
    assert r.status_code == 500 and "not suspended" in r.json()["ExceptionMessage"]
    assert (await client.post(f"{BASE}/instances/r/frobnicate")).status_code == 404


async def test_rewind_codes(client: httpx.AsyncClient, hub: FakeHub) -> None:
    hub.instances["f"] = FakeState("hello", "f", "Failed")
    hub.instances["c"] = FakeState("hello", "c", "Completed")
    assert (await client.post(f"{BASE}/instances/f/rewind?reason=fix")).status_code == 202
    assert (await client.post(f"{BASE}/instances/none/rewind")).status_code == 404
    r = await client.post(f"{BASE}/instances/c/rewind")
    assert r.status_code == 412 and "Failed" in r.json()


async def test_restart_codes(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """Unknown → 400; else 202 payload of the new (or same) instance id."""
    hub.instances["c"] = FakeState("hello", "c", "Completed")
    r = await client.post(f"{BASE}/instances/none/restart")
    assert r.status_code == 400
    assert r.json()["Message"] == "InstanceId does not match a valid orchestration instance."
    r = await client.post(f"{BASE}/instances/c/restart?restartWithNewInstanceId=false")
    assert r.status_code == 202 and r.json()["id"] == "c"
    r = await client.post(f"{BASE}/instances/c/restart")
    assert r.status_code == 202 and r.json()["id"] != "c"


async def test_purge_codes(client: httpx.AsyncClient, hub: FakeHub) -> None:
    """Purge one: 200/404/412; by filter: 400 without createdTimeFrom, 404 when none, 200 with count."""
    hub.instances["c"] = FakeState("hello", "c", "Completed")
    hub.instances["r"] = FakeState("hello", "r", "Running")
    assert (await client.delete(f"{BASE}/instances/none")).status_code == 404
    assert (await client.delete(f"{BASE}/instances/r")).status_code == 412
    r = await client.delete(f"{BASE}/instances/c")
    assert r.status_code == 200 and r.json() == {"instancesDeleted": 1}
    r = await client.delete(f"{BASE}/instances/")
    assert r.status_code == 400 and r.json() == "Please provide value for 'createdTimeFrom' parameter."
    url = f"{BASE}/instances/?createdTimeFrom=2020-01-01T00:00:00Z&runtimeStatus=Completed"
    assert (await client.delete(url)).status_code == 404
    r = await client.delete(f"{BASE}/instances/?createdTimeFrom=2020-01-01T00:00:00Z")
    assert r.status_code == 200 and r.json() == {"instancesDeleted": 1}


async def test_entity_route_shapes_outside_the_api_are_404(client: httpx.AsyncClient) -> None:
    """Only ``entities/{name}[/{key}]`` exists (EXT EntityRoute); the routes themselves are tested against
    the real task hub in tests/devhost/durable/host/test_entities.py."""
    assert (await client.get(f"{BASE}/entities")).status_code == 404
    assert (await client.get(f"{BASE}/entities/counter/k/extra")).status_code == 404
    assert (await client.put(f"{BASE}/entities/counter/k")).status_code == 404
    assert (await client.post(f"{BASE}/entities/counter")).status_code == 404
