"""Functions that outlive host.json functionTimeout (1 second)."""

import asyncio
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="sleepy-sync")
def sleepy_sync(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("s", "3")))
    return func.HttpResponse("woke up")


@app.route(route="sleepy-async")
async def sleepy_async(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(float(req.params.get("s", "3")))
    return func.HttpResponse("woke up")
