"""Fixture app for context.call_http: orchestrators that call HTTP endpoints (here: this app's own HTTP
triggers, reached through the base URL given as input), as a user would write them."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


# -- orchestrators ------------------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def http_call(context: df.DurableOrchestrationContext):
    """Input ``{"method", "url", "content"?, "headers"?, "managed_identity"?}`` → the DurableHttpResponse."""
    req = context.get_input()
    token = df.ManagedIdentityTokenSource("https://management.core.windows.net/") \
        if req.get("managed_identity") else None
    response = yield context.call_http(req["method"], req["url"], req.get("content"), req.get("headers"),
                                       token_source=token)
    return response


@app.orchestration_trigger(context_name="context")
def http_then_activity(context: df.DurableOrchestrationContext):
    """A call_http followed by an activity: both results in order (sequence numbers line up)."""
    response = yield context.call_http("GET", context.get_input())
    shout = yield context.call_activity("shout", response["content"])
    return [response["statusCode"], shout]


@app.activity_trigger(input_name="text")
def shout(text: str) -> str:
    return text.upper()


# -- the endpoints called -----------------------------------------------------------------------------------
@app.route(route="echo", methods=["GET", "POST", "PUT", "DELETE"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """Echoes the method, selected request headers and the body; answers with a custom header."""
    seen = {k: req.headers.get(k) for k in ("x-trace", "content-type", "authorization") if req.headers.get(k)}
    body = {"method": req.method, "headers": seen, "body": req.get_body().decode() or None}
    return func.HttpResponse(json.dumps(body), status_code=201 if req.method == "PUT" else 200,
                             headers={"X-Reply": "yes"}, mimetype="application/json")


@app.route(route="job/{step:int}", methods=["GET", "POST"])
def job(req: func.HttpRequest) -> func.HttpResponse:
    """A long-running job: step 0 (the POST) and 1 answer 202 with Location of the next step and
    Retry-After 600 s; step 2 answers 200 "done"."""
    step = int(req.route_params["step"])
    if step < 2:
        return func.HttpResponse(status_code=202, headers={"Location": f"/api/job/{step + 1}",
                                                           "Retry-After": "600"})
    return func.HttpResponse("done", status_code=200)
