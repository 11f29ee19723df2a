"""A slow route and a health route: a flood of slow requests must not hold health's threads.

``slow`` blocks until the file named by app setting ``RELEASE_FILE`` exists (checked every 20 ms, at most
60 s); ``health`` answers at once.
"""

import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="slow")
def slow(req: func.HttpRequest) -> func.HttpResponse:
    release = Path(os.environ["RELEASE_FILE"])
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return func.HttpResponse("released")


@app.route(route="health")
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")
