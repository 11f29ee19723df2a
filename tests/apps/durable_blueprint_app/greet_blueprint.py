"""Blueprint with an orchestrator, an activity and an HTTP starter."""

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="start", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("greet", None, req.params.get("name", "world"))
    return client.create_check_status_response(req, instance_id)


@bp.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    name = context.get_input()
    first = yield context.call_activity("shout", name)
    second = yield context.call_activity("shout", first)
    return second


@bp.activity_trigger(input_name="text")
def shout(text: str) -> str:
    return text.upper() + "!"
