"""Fixture app for host.json versionMatchStrategy / versionFailureStrategy (tests copy it and rewrite
host.json per case): one orchestrator that reports the version it ran with."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def which_version(context: df.DurableOrchestrationContext):
    greeting = yield context.call_activity("greet", context.version)
    return {"version": context.version, "greeting": greeting}


@app.activity_trigger(input_name="version")
def greet(version: str) -> str:
    return f"ran as {version}"
