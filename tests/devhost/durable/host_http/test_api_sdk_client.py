"""The SDK's DurableOrchestrationClient, unchanged, against devhost: every client method of issue 4.

Most tests call the fixture app's ``client/{op}`` HTTP function, which runs the client inside the host
like app code does; one builds the client from devhost's binding JSON and runs it on the host's loop.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import httpx

from tests.devhost.durable.host_http.durable_api_helpers import API, start, wait_status

FINISHED = {"Completed", "Failed", "Terminated"}


def op(http: httpx.Client, operation: str, method: str = "POST", body: Any = None, **params: str) -> Any:
    """Call the fixture's client function ``client/{operation}``; returns its JSON answer."""
    kwargs: dict[str, Any] = {"params": params}
    if body is not None:
        kwargs["content"] = json.dumps(body).encode()
    r = http.request(method, f"/api/client/{operation}", **kwargs)
    assert r.status_code in (200, 202, 500), r.text
    return r.json()


def test_start_new_with_id_input_and_version(http: httpx.Client) -> None:
    """start_new(name, id, input, version): the orchestrator sees the input and version."""
    iid = f"sdk-{uuid.uuid4().hex[:8]}"
    assert op(http, "start", body={"x": 1}, name="echo_input", id=iid, version="3.0") == {"id": iid}
    status = wait_status(http, iid, FINISHED)
    assert status["output"] == {"input": {"x": 1}, "version": "3.0"}
    assert status["input"] == '{"x": 1}'  # the SDK double-encodes start input, as on Azure
    generated = op(http, "start", name="echo_input")["id"]
    assert len(generated) == 32


def test_start_new_unknown_orchestrator_raises(http: httpx.Client) -> None:
    """The SDK raises with the extension's ExceptionMessage."""
    answer = op(http, "start", name="nope")
    assert "The function 'nope' doesn't exist" in answer["error"]


def test_get_status_flags(http: httpx.Client) -> None:
    """get_status with history/output/input flags; unknown id → falsy status."""
    iid = op(http, "start", name="hello_sequence")["id"]
    wait_status(http, iid, FINISHED)
    plain = op(http, "status", "GET", id=iid)
    assert plain["runtimeStatus"] == "Completed" and plain["historyEvents"] is None
    assert plain["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    full = op(http, "status", "GET", id=iid, history="1", output="1", input="1")
    completed = [e for e in full["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert [e["Result"] for e in completed] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    no_output = op(http, "status", "GET", id=iid, history="1")
    assert all("Result" not in e for e in no_output["historyEvents"])
    assert op(http, "status", "GET", id="missing-" + uuid.uuid4().hex)["found"] is False


def test_get_status_all_and_by(http: httpx.Client) -> None:
    """get_status_all lists instances; get_status_by filters by status, prefix and creation time."""
    prefix = f"by{uuid.uuid4().hex[:6]}-"
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [op(http, "start", name="echo_input", id=f"{prefix}{i}")["id"] for i in range(2)]
    waiting = op(http, "start", name="wait_approval", id=f"{prefix}w")["id"]
    for iid in ids:
        wait_status(http, iid, FINISHED)
    wait_status(http, waiting, {"Running"})
    everyone = {s["instanceId"] for s in op(http, "all", "GET")}
    assert set(ids) | {waiting} <= everyone
    done = op(http, "by", "GET", status="Completed", prefix=prefix)
    assert sorted(s["instanceId"] for s in done) == ids
    running = op(http, "by", "GET", status="Running,Pending", prefix=prefix)
    assert [s["instanceId"] for s in running] == [waiting]
    recent = op(http, "by", "GET", prefix=prefix, **{"from": before.isoformat()})
    assert len(recent) == 3
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert op(http, "by", "GET", prefix=prefix, **{"from": later}) == []
    op(http, "terminate", id=waiting)


def test_raise_event(http: httpx.Client) -> None:
    """raise_event delivers the (double-encoded, as on Azure) data; 404/410 surface as SDK errors."""
    iid = op(http, "start", name="wait_approval")["id"]
    wait_status(http, iid, {"Running"})
    assert op(http, "raise", body={"by": "bo"}, id=iid, event="Approval") == {"ok": True}
    assert wait_status(http, iid, FINISHED)["output"] == {"approval": '{"by": "bo"}'}
    gone = op(http, "raise", body=1, id=iid, event="Approval")
    assert gone["error"] == f"Instance with ID {iid} is gone: either completed or failed"
    missing = op(http, "raise", body=1, id="nobody", event="Approval")
    assert missing["error"] == "No instance with ID nobody found."


def test_terminate_suspend_resume(http: httpx.Client) -> None:
    """suspend → Suspended, resume → Running, terminate → Terminated with the reason as output."""
    iid = op(http, "start", name="wait_approval")["id"]
    wait_status(http, iid, {"Running"})
    assert op(http, "suspend", id=iid, reason="hold on") == {"ok": True}
    wait_status(http, iid, {"Suspended"})
    assert op(http, "resume", id=iid, reason="go on") == {"ok": True}
    wait_status(http, iid, {"Running"})
    assert op(http, "terminate", id=iid, reason="enough") == {"ok": True}
    status = wait_status(http, iid, FINISHED)
    assert status["runtimeStatus"] == "Terminated" and status["output"] == "enough"
    assert op(http, "terminate", id=iid) == {"ok": True}  # 410 is not an error for the SDK
    assert op(http, "suspend", id="nobody")["error"] == "No instance with ID 'nobody' found."


def test_rewind(http: httpx.Client) -> None:
    """rewind re-runs the failed activity; rewinding a completed instance raises the host's message."""
    iid = op(http, "start", name="flaky_then_ok")["id"]
    assert wait_status(http, iid, FINISHED)["runtimeStatus"] == "Failed"
    assert op(http, "rewind", id=iid, reason="try again") == {"ok": True}
    assert wait_status(http, iid, {"Completed"})["output"] == "recovered"
    assert "only orchestrations in the \"Failed\" state can be rewound" in op(http, "rewind", id=iid)["error"]
    assert op(http, "rewind", id="nobody")["error"] == "No instance with ID nobody found."


def test_restart(http: httpx.Client) -> None:
    """restart answers the extension's check-status payload (so the SDK returns a dict)."""
    iid = op(http, "start", body=[5], name="echo_input")["id"]
    wait_status(http, iid, FINISHED)
    fresh = op(http, "restart", id=iid)["result"]
    assert fresh["id"] != iid and fresh["statusQueryGetUri"].endswith(fresh["statusQueryGetUri"][-20:])
    assert wait_status(http, fresh["id"], FINISHED)["output"]["input"] == [5]
    same = op(http, "restart", id=iid, new="false")["result"]
    assert same["id"] == iid
    wait_status(http, iid, FINISHED)
    assert "400" in op(http, "restart", id="nobody")["error"]


def test_purge_instance_history_and_by(http: httpx.Client) -> None:
    """purge_instance_history → 1 then 0; purge_instance_history_by counts what it deleted."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [op(http, "start", name="echo_input")["id"] for _ in range(2)]
    for iid in ids:
        wait_status(http, iid, FINISHED)
    assert op(http, "purge", "DELETE", id=ids[0]) == {"deleted": 1}
    assert op(http, "purge", "DELETE", id=ids[0]) == {"deleted": 0}
    result = op(http, "purge_by", "DELETE", status="Completed", **{"from": before.isoformat()})
    assert result["deleted"] >= 1
    assert http.get(f"{API}/instances/{ids[1]}").status_code == 404
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert op(http, "purge_by", "DELETE", **{"from": later}) == {"deleted": 0}


def test_wait_for_completion_or_check_status(http: httpx.Client) -> None:
    """Completed in time → 200 with the output; otherwise the 202 check-status response."""
    r = http.post("/api/client/wait", params={"name": "hello_sequence", "timeout_ms": "10000"})
    assert r.status_code == 200 and r.json() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    r = http.post("/api/client/wait", params={"name": "wait_approval", "timeout_ms": "300"})
    assert r.status_code == 202 and r.headers["location"] == r.json()["statusQueryGetUri"]
    http.post(f"{API}/instances/{r.json()['id']}/terminate")
    r = http.post("/api/client/wait", params={"name": "failing", "timeout_ms": "10000"})
    assert r.status_code == 500 and r.json()["runtimeStatus"] == "Failed"


def test_check_status_response_and_management_payload(http: httpx.Client, host: Any) -> None:
    """create_check_status_response uses the request's origin; both payloads' URLs work from curl."""
    iid = start(http, "echo_input", body=1)
    r = http.get("/api/client/check", params={"id": iid})
    assert r.status_code == 202
    assert r.json()["statusQueryGetUri"].startswith(f"{host.base_url}{API}/instances/{iid}?")
    wait_status(http, iid, FINISHED)
    assert httpx.get(r.json()["statusQueryGetUri"], timeout=10).status_code == 200
    payload = op(http, "payload", "GET", id=iid)
    assert payload["id"] == iid and "rewindPostUri" in payload
    assert httpx.get(payload["statusQueryGetUri"], timeout=10).json()["instanceId"] == iid


def test_client_built_from_binding_json_on_the_host_loop(http: httpx.Client, host: Any) -> None:
    """DurableOrchestrationClient(binding_json(...)) works unchanged when run on the host's event loop."""
    from devhost.durable.client_binding import binding_json

    hub = next(ext.hub for ext in host.host.extensions if getattr(ext, "hub", None) is not None)
    client = df.DurableOrchestrationClient(binding_json(hub, host.base_url, {}))
    iid = host.call(client.start_new("echo_input", None, {"k": 2}))
    wait_status(http, iid, FINISHED)
    status = host.call(client.get_status(iid, show_history=True))
    assert status.runtime_status == df.OrchestrationRuntimeStatus.Completed
    assert status.output == {"input": {"k": 2}, "version": "1.0"}
    assert status.historyEvents[0]["EventType"] == "ExecutionStarted"
