"""Fixture app for the crash test: slow activities and instances waiting for events."""

import os
import time
from pathlib import Path

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="value")
def slow_step(value: int) -> int:
    """Records each run in CRASH_MARKER_DIR, then takes a while (so a kill lands mid-activity)."""
    marker = Path(os.environ["CRASH_MARKER_DIR"]) / f"run-{os.getpid()}-{time.monotonic_ns()}"
    marker.write_text(str(value))
    time.sleep(0.3)
    return value * 2


@app.orchestration_trigger(context_name="context")
def crash_chain(context: df.DurableOrchestrationContext):
    value = context.get_input()
    results = []
    for _ in range(3):
        value = yield context.call_activity("slow_step", value)
        results.append(value)
    return results


@app.orchestration_trigger(context_name="context")
def crash_wait(context: df.DurableOrchestrationContext):
    got = yield context.wait_for_external_event("Go")
    doubled = yield context.call_activity("slow_step", got)
    return {"got": got, "doubled": doubled}
