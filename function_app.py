"""The case workflow app: composition root only. Each concern lives in a blueprint under triggers/,
orchestrations/ and activities/; this file creates the app and registers them."""

import azure.durable_functions as df
import azure.functions as func

from activities.case_steps import bp as case_steps
from activities.effects import bp as effects
from activities.maintenance_steps import bp as maintenance_steps
from orchestrations.approval import bp as approval
from orchestrations.case_workflow import bp as case_workflow
from orchestrations.maintenance import bp as maintenance
from triggers.cases import bp as cases
from triggers.events import bp as events
from triggers.queue import bp as queue_ingress
from triggers.timer import bp as timer

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    events,
    queue_ingress,
    cases,
    timer,
    case_workflow,
    approval,
    maintenance,
    case_steps,
    effects,
    maintenance_steps,
):
    app.register_functions(blueprint)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness probe: 200 with a tiny JSON body."""
    return func.HttpResponse('{"status": "ok"}', mimetype="application/json")
