"""Fixture app for the Durable HTTP API and durable client tests: a plain v2 Durable Functions app.

An HTTP starter (start_new + create_check_status_response), a few orchestrators and activities, and a
blueprint of HTTP functions that call each DurableOrchestrationClient method and answer with the result
as JSON (errors as ``{"error": "..."}``), so tests can drive the SDK client the way app code does.
"""

import json
from datetime import datetime

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
client_ops = df.Blueprint()

_flaky_seen: set[str] = set()


# -- starter --------------------------------------------------------------------------------------------
@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["functionName"], None,
                                         json.loads(body) if body else None)
    return client.create_check_status_response(req, instance_id)


# -- orchestrators ---------------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def hello_sequence(context: df.DurableOrchestrationContext):
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield context.call_activity("say_hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def echo_input(context: df.DurableOrchestrationContext):
    return {"input": context.get_input(), "version": context.version}


@app.orchestration_trigger(context_name="context")
def wait_approval(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    approval = yield context.wait_for_external_event("Approval")
    context.set_custom_status({"stage": "approved"})
    return {"approval": approval}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", "x")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def flaky_then_ok(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("flaky_once", context.instance_id)
    return result


# -- activities -----------------------------------------------------------------------------------------
@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="value")
def boom(value: str) -> str:
    raise RuntimeError("activity exploded")


@app.activity_trigger(input_name="key")
def flaky_once(key: str) -> str:
    if key not in _flaky_seen:
        _flaky_seen.add(key)
        raise RuntimeError("first attempt fails")
    return "recovered"


# -- client operations (SDK DurableOrchestrationClient, called from app code) ----------------------------
def _reply(value, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value, default=str), status_code=status, mimetype="application/json")


def _status_json(status) -> dict:
    if not status:
        return {"found": False, "message": getattr(status, "message", None)}
    data = status.to_json()
    data["found"] = True
    data["historyEvents"] = getattr(status, "historyEvents", None)
    return data


def _time(value: str | None):
    return datetime.fromisoformat(value) if value else None


@client_ops.route(route="client/{op}", methods=["GET", "POST", "DELETE"])
@client_ops.durable_client_input(client_name="client")
async def client_op(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    op = req.route_params["op"]
    q = req.params
    iid = q.get("id")
    try:
        if op == "start":
            body = req.get_body()
            data = json.loads(body) if body else None
            new_id = await client.start_new(q["name"], iid, data, q.get("version"))
            return _reply({"id": new_id})
        if op == "check":
            return client.create_check_status_response(req, iid)
        if op == "payload":
            return _reply(client.create_http_management_payload(iid))
        if op == "wait":
            new_id = await client.start_new(q["name"], None, None)
            return await client.wait_for_completion_or_create_check_status_response(
                req, new_id, timeout_in_milliseconds=int(q.get("timeout_ms", "5000")),
                retry_interval_in_milliseconds=int(q.get("retry_ms", "50")))
        if op == "status":
            status = await client.get_status(iid, show_history=q.get("history") == "1",
                                             show_history_output=q.get("output") == "1",
                                             show_input=q.get("input") == "1")
            return _reply(_status_json(status))
        if op == "all":
            return _reply([_status_json(s) for s in await client.get_status_all()])
        if op == "by":
            statuses = [df.OrchestrationRuntimeStatus(s) for s in q["status"].split(",")] \
                if q.get("status") else None
            found = await client.get_status_by(_time(q.get("from")), _time(q.get("to")), statuses,
                                               q.get("prefix"))
            return _reply([_status_json(s) for s in found])
        if op == "raise":
            await client.raise_event(iid, q["event"], json.loads(req.get_body() or b"null"))
            return _reply({"ok": True})
        if op in ("terminate", "suspend", "resume", "rewind"):
            await getattr(client, op)(iid, q.get("reason", "because"))
            return _reply({"ok": True})
        if op == "restart":
            return _reply({"result": await client.restart(iid, q.get("new", "true") == "true")})
        if op == "purge":
            return _reply({"deleted": (await client.purge_instance_history(iid)).instances_deleted})
        if op == "purge_by":
            statuses = [df.OrchestrationRuntimeStatus(s) for s in q["status"].split(",")] \
                if q.get("status") else None
            result = await client.purge_instance_history_by(
                _time(q.get("from")), _time(q.get("to")), statuses)
            return _reply({"deleted": result.instances_deleted})
    except Exception as exc:  # the test reads the SDK's error message
        return _reply({"error": str(exc)})
    return _reply({"error": f"unknown op {op}"}, 404)


app.register_functions(client_ops)
