"""Benchmark app for bench/waiting.py: instances that each wait for one external event."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def wait_one(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("Go")
    return value
