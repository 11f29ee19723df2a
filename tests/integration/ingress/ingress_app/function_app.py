"""Fixture app for the ingress integration tests: the real ingress blueprints (triggers/events.py,
triggers/queue.py) with a stand-in ``case_workflow`` orchestrator, so the tests exercise ingress alone.

The stand-in records its input in its custom status, waits for the external event ``finish`` and returns the
event id and type, which lets the tests see a redelivery both while the case runs and after it completed.
"""

import azure.durable_functions as df
import azure.functions as func

from shared.contracts.event import CASE_WORKFLOW
from triggers.events import bp as events_bp
from triggers.queue import bp as queue_bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(events_bp)
app.register_functions(queue_bp)


@app.function_name(CASE_WORKFLOW)
@app.orchestration_trigger(context_name="context")
def case_workflow(context: df.DurableOrchestrationContext):
    event = context.get_input()
    context.set_custom_status({"type": event["type"], "channel": event["channel"]})
    yield context.wait_for_external_event("finish")
    return {"event_id": event["event_id"], "type": event["type"]}
