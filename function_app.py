"""The case workflow app: composition root only. Each concern lives in a blueprint under triggers/,
orchestrations/ and activities/; this file creates the app and registers them."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness probe: 200 with a tiny JSON body."""
    return func.HttpResponse('{"status": "ok"}', mimetype="application/json")
