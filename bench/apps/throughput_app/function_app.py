"""Benchmark app for bench/throughput.py: a chain of five activities and a fan-out/fan-in of N activities."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def chain5(context: df.DurableOrchestrationContext):
    value = context.get_input() or 0
    for _ in range(5):
        value = yield context.call_activity("work", value)
    return value


@app.orchestration_trigger(context_name="context")
def fanout(context: df.DurableOrchestrationContext):
    count = context.get_input() or 0
    results = yield context.task_all([context.call_activity("work", i) for i in range(count)])
    return sum(results)


@app.activity_trigger(input_name="value")
def work(value: int) -> int:
    return value + 1
