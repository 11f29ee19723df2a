"""Fixture app for devhost's development sign-in: ``whoami`` echoes the principal headers it receives and
the ``DEVHOST_AUTH_LOGIN_PATH`` app setting."""

import json
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="whoami", methods=["GET", "POST"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    """200 JSON ``{"headers": {x-ms-client-principal*: value}, "loginPath": setting or null}``."""
    headers = {k: v for k, v in req.headers.items() if k.lower().startswith("x-ms-client-principal")}
    body = {"headers": headers, "loginPath": os.environ.get("DEVHOST_AUTH_LOGIN_PATH")}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
