"""Fixture app for the durable engine tests: the Durable Functions patterns, written as a user would."""

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_attempts: dict[str, int] = {}


# -- starter ------------------------------------------------------------------------------------------------
@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"),
                                         json.loads(body) if body else None)
    return client.create_check_status_response(req, instance_id)


# -- activities ---------------------------------------------------------------------------------------------
@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="n")
def double(n: int) -> int:
    return n * 2


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    """Fails twice per key, then succeeds (the third attempt)."""
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise RuntimeError(f"flaky failure {_attempts[key]} for {key}")
    return f"ok after {_attempts[key]}"


@app.activity_trigger(input_name="what")
def boom(what: str) -> str:
    raise ValueError(f"activity exploded: {what}")


# -- orchestrators ------------------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield context.call_activity("say_hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    deadline = context.current_utc_datetime + timedelta(hours=72)
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        context.set_custom_status({"stage": "approved"})
        return {"approved": event.result}
    context.set_custom_status({"stage": "timed out"})
    return {"approved": None, "timed_out_at": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def monitor(context: df.DurableOrchestrationContext):
    ticks = []
    for i in range(3):
        yield context.create_timer(context.current_utc_datetime + timedelta(minutes=30))
        ticks.append(i)
    return ticks


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    a = yield context.call_sub_orchestrator("chain")
    b = yield context.call_sub_orchestrator("child_version", None, "fixed-child-id")
    failed = None
    try:
        yield context.call_sub_orchestrator("boom_orchestrator")
    except Exception as exc:
        failed = str(exc)
    return {"chain": a, "child": b, "failed": failed}


@app.orchestration_trigger(context_name="context")
def child_version(context: df.DurableOrchestrationContext):
    return {"version": context.version, "parent": context.parent_instance_id}


@app.orchestration_trigger(context_name="context")
def boom_orchestrator(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "x")
    raise RuntimeError("orchestrator blew up")


@app.orchestration_trigger(context_name="context")
def retry_ok(context: df.DurableOrchestrationContext):
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", opts, context.instance_id))


@app.orchestration_trigger(context_name="context")
def retry_exhaust(context: df.DurableOrchestrationContext):
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    return (yield context.call_activity_with_retry("boom", opts, "retried"))


@app.orchestration_trigger(context_name="context")
def activity_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("boom", "caught")
    except Exception as exc:
        caught = str(exc)
    yield context.call_activity("boom", "uncaught")
    return caught


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    if n < 5:
        yield context.call_activity("double", n)
        context.continue_as_new(n + 1)
        return None
    return {"final": n, "uuid": str(context.new_uuid())}


@app.orchestration_trigger(context_name="context")
def two_events(context: df.DurableOrchestrationContext):
    first = yield context.wait_for_external_event("First")
    context.set_custom_status("got first")
    second = yield context.wait_for_external_event("Second")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def versioned(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("child_version")
    return {"version": context.version, "child": child}


@app.orchestration_trigger(context_name="context")
def rewindable(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("say_hello", "before")
    second = yield context.call_activity("flaky", context.instance_id)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("flaky", context.get_input()))


@app.orchestration_trigger(context_name="context")
def sub_retry(context: df.DurableOrchestrationContext):
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)
    return (yield context.call_sub_orchestrator_with_retry("flaky_child", opts, context.instance_id))
