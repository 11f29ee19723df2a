"""Fixture app for the durable audit tests: failure texts, the activity concurrency limit of host.json,
a 72-hour approval wait and an HTTP starter using the SDK's DurableOrchestrationClient. Written as a user
would (v2 decorators, df.DFApp); nothing devhost-specific."""

import json
import threading
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_lock = threading.Lock()
_running = {"now": 0}


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"),
                                         json.loads(body) if body else None)
    return client.create_check_status_response(req, instance_id)


@app.activity_trigger(input_name="what")
def boom(what: str) -> str:
    raise ValueError(f"activity exploded: {what}")


@app.activity_trigger(input_name="n")
def tracked(n: int) -> int:
    """Sleeps a little and returns how many activities were running at its start (itself included)."""
    with _lock:
        _running["now"] += 1
        seen = _running["now"]
    time.sleep(0.15)
    with _lock:
        _running["now"] -= 1
    return seen


@app.orchestration_trigger(context_name="context")
def catch_activity(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("boom", "caught")
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def orchestrator_raises(context: df.DurableOrchestrationContext):
    yield context.call_activity("tracked", 0)
    raise RuntimeError("orchestrator blew up")


@app.orchestration_trigger(context_name="context")
def fan_tracked(context: df.DurableOrchestrationContext):
    seen = yield context.task_all([context.call_activity("tracked", i) for i in range(8)])
    return max(seen)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    deadline = context.current_utc_datetime + timedelta(hours=72)
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"approved": event.result}
    return {"approved": None, "timed_out_at": context.current_utc_datetime.isoformat()}
