"""The Durable HTTP API of a running devhost, through plain HTTP: every status code of issue 4's list."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.devhost.durable.host_http.durable_api_helpers import API, start, wait_status

FINISHED = {"Completed", "Failed", "Terminated"}


def test_starter_urls_work_like_curl(http: httpx.Client) -> None:
    """The app's HTTP starter answers 202; its statusQueryGetUri, followed as-is, reaches 200 + output."""
    r = http.post("/api/orchestrators/hello_sequence")
    assert r.status_code == 202
    payload = r.json()
    assert r.headers["location"] == payload["statusQueryGetUri"]
    assert payload["statusQueryGetUri"].startswith(f"{http.base_url}{API}/instances/{payload['id']}?taskHub=")
    wait_status(http, payload["id"], FINISHED)
    status = httpx.get(payload["statusQueryGetUri"], timeout=10)
    assert status.status_code == 200
    assert status.json()["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert status.json()["runtimeStatus"] == "Completed"


def test_start_with_id_input_and_version(http: httpx.Client) -> None:
    """POST orchestrators/{fn}/{id}?version= stores the input and version; Location is the status URL."""
    iid = f"echo-{uuid.uuid4().hex[:8]}"
    r = http.post(f"{API}/orchestrators/echo_input/{iid}?version=2.5", json={"a": 1})
    assert r.status_code == 202 and r.json()["id"] == iid
    assert r.headers["retry-after"] == "10"
    status = wait_status(http, iid, FINISHED)
    assert status["output"] == {"input": {"a": 1}, "version": "2.5"}
    assert status["input"] == {"a": 1}
    assert start(http, "echo_input") != iid  # a generated id
    default = wait_status(http, start(http, "echo_input"), FINISHED)
    assert default["output"]["version"] == "1.0"  # host.json defaultVersion


def test_start_errors(http: httpx.Client) -> None:
    """400 for bad JSON and unknown orchestrators (with ExceptionMessage), 409 over a running instance."""
    r = http.post(f"{API}/orchestrators/echo_input", content=b"{not json")
    assert r.status_code == 400 and r.json()["Message"] == "Invalid JSON content"
    r = http.post(f"{API}/orchestrators/no_such_orchestrator")
    assert r.status_code == 400
    assert "no_such_orchestrator" in r.json()["ExceptionMessage"]
    assert http.post(f"{API}/orchestrators/echo_input/@bad").status_code == 400
    iid = start(http, "wait_approval")
    assert http.post(f"{API}/orchestrators/wait_approval/{iid}").status_code == 409
    http.post(f"{API}/instances/{iid}/terminate")


def test_start_and_wait(http: httpx.Client) -> None:
    """timeout + pollingInterval: 200 with the output when done in time, else the 202 payload."""
    r = http.post(f"{API}/orchestrators/hello_sequence?timeout=10&pollingInterval=1")
    assert r.status_code == 200 and r.json() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    r = http.post(f"{API}/orchestrators/wait_approval?timeout=0.2&pollingInterval=0.05")
    assert r.status_code == 202 and "sendEventPostUri" in r.json()
    http.post(f"{API}/instances/{r.json()['id']}/terminate")


def test_status_codes(http: httpx.Client) -> None:
    """404 unknown; 202 + Location + Retry-After 5 while waiting (custom status visible); 200 done."""
    assert http.get(f"{API}/instances/{uuid.uuid4().hex}").status_code == 404
    iid = start(http, "wait_approval")
    wait_status(http, iid, {"Running"})
    r = http.get(f"{API}/instances/{iid}")
    assert r.status_code == 202
    assert r.headers["retry-after"] == "5"
    assert r.headers["location"].endswith(f"/instances/{iid}")
    assert r.json()["customStatus"] == {"stage": "waiting"}
    assert r.json()["createdTime"].endswith("Z") and len(r.json()["createdTime"]) == 20
    r = http.post(f"{API}/instances/{iid}/raiseEvent/Approval", json={"by": "ann"})
    assert r.status_code == 202
    done = wait_status(http, iid, FINISHED)
    assert done["output"] == {"approval": {"by": "ann"}}
    assert done["customStatus"] == {"stage": "approved"}
    assert http.get(f"{API}/instances/{iid}").status_code == 200


def test_failed_instance_is_200_or_500(http: httpx.Client) -> None:
    """A failed instance answers 200, or 500 with returnInternalServerErrorOnFailure=true."""
    iid = start(http, "failing")
    status = wait_status(http, iid, FINISHED)
    assert status["runtimeStatus"] == "Failed"
    assert "activity exploded" in status["output"]
    assert http.get(f"{API}/instances/{iid}").status_code == 200
    r = http.get(f"{API}/instances/{iid}?returnInternalServerErrorOnFailure=true")
    assert r.status_code == 500 and r.json()["runtimeStatus"] == "Failed"


def test_show_history(http: httpx.Client) -> None:
    """showHistory merges scheduled events into completions; showHistoryOutput adds parsed results."""
    iid = start(http, "hello_sequence")
    wait_status(http, iid, FINISHED)
    r = http.get(f"{API}/instances/{iid}?showHistory=true&showHistoryOutput=true")
    events = r.json()["historyEvents"]
    kinds = [e["EventType"] for e in events]
    assert kinds == ["ExecutionStarted"] + ["TaskCompleted"] * 3 + ["ExecutionCompleted"]
    assert events[0]["FunctionName"] == "hello_sequence"
    assert events[1]["FunctionName"] == "say_hello" and events[1]["Result"] == "Hello Tokyo!"
    assert "ScheduledTime" in events[1] and "EventId" not in events[1]
    assert events[-1]["OrchestrationStatus"] == "Completed"
    assert events[-1]["Result"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    plain = http.get(f"{API}/instances/{iid}?showHistory=true&showInput=false").json()
    assert "Result" not in plain["historyEvents"][1]
    assert plain["input"] is None


def test_query_filters_and_paging(http: httpx.Client) -> None:
    """runtimeStatus, instanceIdPrefix and createdTime filters; top pages with x-ms-continuation-token."""
    prefix = f"q{uuid.uuid4().hex[:6]}-"
    ids = [start(http, "echo_input", f"{prefix}{i}", body=i) for i in range(3)]
    for iid in ids:
        wait_status(http, iid, FINISHED)
    r = http.get(f"{API}/instances/", params={"instanceIdPrefix": prefix, "runtimeStatus": "Completed"})
    assert r.status_code == 200 and sorted(s["instanceId"] for s in r.json()) == ids
    assert http.get(f"{API}/instances/", params={"instanceIdPrefix": prefix,
                                                 "runtimeStatus": "Running"}).json() == []
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert http.get(f"{API}/instances/", params={"instanceIdPrefix": prefix,
                                                 "createdTimeFrom": future}).json() == []
    seen: list[str] = []
    headers: dict[str, str] = {}
    for _ in range(5):
        r = http.get(f"{API}/instances/", params={"instanceIdPrefix": prefix, "top": "2"}, headers=headers)
        assert len(r.json()) <= 2
        seen += [s["instanceId"] for s in r.json()]
        token = r.headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    assert sorted(seen) == ids


def test_raise_event_codes(http: httpx.Client) -> None:
    """raiseEvent: 404 unknown, 400 without application/json, 410 after completion."""
    assert http.post(f"{API}/instances/{uuid.uuid4().hex}/raiseEvent/Approval", json=1).status_code == 404
    iid = start(http, "wait_approval")
    r = http.post(f"{API}/instances/{iid}/raiseEvent/Approval", content=b"yes",
                  headers={"content-type": "text/plain"})
    assert r.status_code == 400
    assert http.post(f"{API}/instances/{iid}/RaiseEvent/Approval", json=True).status_code == 202
    wait_status(http, iid, FINISHED)
    assert http.post(f"{API}/instances/{iid}/raiseEvent/Approval", json=True).status_code == 410


def test_terminate_suspend_resume(http: httpx.Client) -> None:
    """202 while running; suspend twice / resume while running → 500; 404 unknown; 410 when finished."""
    iid = start(http, "wait_approval")
    wait_status(http, iid, {"Running"})
    assert http.post(f"{API}/instances/{iid}/suspend?reason=pause").status_code == 202
    wait_status(http, iid, {"Suspended"})
    assert http.post(f"{API}/instances/{iid}/suspend").status_code == 500
    assert http.post(f"{API}/instances/{iid}/Resume?reason=go").status_code == 202
    wait_status(http, iid, {"Running"})
    assert http.post(f"{API}/instances/{iid}/resume").status_code == 500
    assert http.post(f"{API}/instances/{iid}/terminate?reason=no+longer+needed").status_code == 202
    status = wait_status(http, iid, FINISHED)
    assert status["runtimeStatus"] == "Terminated" and status["output"] == "no longer needed"
    for op in ("terminate", "suspend", "resume"):
        assert http.post(f"{API}/instances/{iid}/{op}").status_code == 410
        assert http.post(f"{API}/instances/{uuid.uuid4().hex}/{op}").status_code == 404


def test_rewind(http: httpx.Client) -> None:
    """A failed instance is rewound (202) and completes; 412 when not failed; 404 unknown."""
    iid = start(http, "flaky_then_ok")
    assert wait_status(http, iid, FINISHED)["runtimeStatus"] == "Failed"
    assert http.post(f"{API}/instances/{iid}/rewind?reason=retry").status_code == 202
    status = wait_status(http, iid, {"Completed"})
    assert status["output"] == "recovered"
    assert http.post(f"{API}/instances/{iid}/rewind").status_code == 412
    assert http.post(f"{API}/instances/{uuid.uuid4().hex}/rewind").status_code == 404


def test_restart(http: httpx.Client) -> None:
    """restart: 202 payload for a new (default) or the same id, same input; 400 unknown instance."""
    iid = start(http, "echo_input", body={"n": 7})
    wait_status(http, iid, FINISHED)
    r = http.post(f"{API}/instances/{iid}/restart")
    assert r.status_code == 202 and r.json()["id"] != iid
    assert wait_status(http, r.json()["id"], FINISHED)["output"]["input"] == {"n": 7}
    r = http.post(f"{API}/instances/{iid}/restart?restartWithNewInstanceId=false")
    assert r.status_code == 202 and r.json()["id"] == iid
    wait_status(http, iid, FINISHED)
    r = http.post(f"{API}/instances/{uuid.uuid4().hex}/restart")
    assert r.status_code == 400


def test_purge(http: httpx.Client) -> None:
    """Purge one: 200 then 404; 412 while running. By filter: 400 without createdTimeFrom, 404 when
    nothing matches, 200 with the count."""
    iid = start(http, "echo_input", body=1)
    wait_status(http, iid, FINISHED)
    r = http.delete(f"{API}/instances/{iid}")
    assert r.status_code == 200 and r.json() == {"instancesDeleted": 1}
    assert http.get(f"{API}/instances/{iid}").status_code == 404
    assert http.delete(f"{API}/instances/{iid}").status_code == 404
    running = start(http, "wait_approval")
    assert http.delete(f"{API}/instances/{running}").status_code == 412
    http.post(f"{API}/instances/{running}/terminate")
    r = http.delete(f"{API}/instances/")
    assert r.status_code == 400
    assert json.loads(r.text) == "Please provide value for 'createdTimeFrom' parameter."
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert http.delete(f"{API}/instances/", params={"createdTimeFrom": future}).status_code == 404
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [start(http, "echo_input", body=i) for i in range(2)]
    for i in ids:
        wait_status(http, i, FINISHED)
    r = http.delete(f"{API}/instances/", params={
        "createdTimeFrom": before.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "runtimeStatus": "Completed"})
    assert r.status_code == 200 and r.json()["instancesDeleted"] >= 2
    assert all(http.get(f"{API}/instances/{i}").status_code == 404 for i in ids)
