"""A small HTTP app written the way an Azure Functions user writes one (v2 programming model)."""

import asyncio
import json
import os
import time

import azure.functions as func
from blueprint import bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)


@app.route(route="hello/{name}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    greeting = os.environ.get("GREETING", "Hi")
    return func.HttpResponse(f"{greeting}, {req.route_params['name']}!")


@app.route(route="echo", methods=["POST", "PUT"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """Echo the request back: JSON description in a header, body bytes unchanged."""
    info = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "x_test": req.headers.get("X-Test"),
        "content_type": req.headers.get("content-type"),
        "length": len(req.get_body()),
    }
    return func.HttpResponse(
        req.get_body(),
        status_code=201,
        headers={"X-Info": json.dumps(info)},
        mimetype=req.headers.get("content-type", "application/octet-stream"),
    )


@app.route(route="json", methods=["POST"])
def json_body(req: func.HttpRequest) -> func.HttpResponse:
    try:
        data = req.get_json()
    except ValueError as exc:
        return func.HttpResponse(str(exc), status_code=400)
    return func.HttpResponse(json.dumps({"got": data}), mimetype="application/json")


@app.route(route="plain")
def plain(req: func.HttpRequest) -> str:
    return "just a string"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("boom")


@app.route(route="nothing")
def nothing(req: func.HttpRequest) -> func.HttpResponse:
    return None


@app.route(route="dict")
def returns_dict(req: func.HttpRequest) -> func.HttpResponse:
    return {"not": "a response"}


@app.route(route="slow-sync")
def slow_sync(req: func.HttpRequest) -> func.HttpResponse:
    seconds = float(req.params.get("s", "1"))
    time.sleep(seconds)
    return func.HttpResponse(f"slept {seconds}")


@app.route(route="fast-async")
async def fast_async(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return func.HttpResponse("fast")


@app.route(route="slow-async")
async def slow_async(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse("slow async done")


@app.route(route="forever")
def forever(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(8)
    return func.HttpResponse("too late")


@app.route(route="ctx")
def ctx(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({
        "invocation_id": context.invocation_id,
        "function_name": context.function_name,
        "function_directory": context.function_directory,
        "trace_parent": context.trace_context.trace_parent,
        "tls_invocation_id": getattr(context.thread_local_storage, "invocation_id", None),
        "retry_count": context.retry_context.retry_count,
    }), mimetype="application/json")


@app.route(route="cookies")
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    headers = {"Set-Cookie": "a=1; Path=/", "Content-Type": "application/vnd.test+json"}
    resp = func.HttpResponse('{"c": 1}', status_code=202, headers=headers)
    resp.headers.add("Set-Cookie", "b=2; Path=/")
    return resp
