"""Fixture app for the storage binding tests, written as a user would (decorators only).

Queue names, containers and schedules come from app settings (``%ORDERS_QUEUE%`` ...) so each test
uses its own queues in the shared Azurite.
"""

import json
import logging

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp()


@app.queue_trigger(arg_name="msg", queue_name="%ORDERS_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="confirmations", queue_name="%OUT_QUEUE%", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="receipt", path="%CONTAINER%/receipts/{id}.json", connection="AzureWebJobsStorage")
def orders(msg: func.QueueMessage, confirmations: func.Out[str], receipt: func.Out[str]) -> None:
    order = msg.get_json()
    confirmations.set(json.dumps([f"confirmed {order['id']}", f"dequeue {msg.dequeue_count}"]))
    receipt.set(
        json.dumps(
            {
                "order": order,
                "message_id": msg.id,
                "dequeue_count": msg.dequeue_count,
                "inserted": msg.insertion_time.isoformat(),
                "pop_receipt": bool(msg.pop_receipt),
            }
        )
    )


@app.queue_trigger(arg_name="text", queue_name="%LOOKUP_QUEUE%", connection="AzureWebJobsStorage")
@app.blob_input(arg_name="source", path="%CONTAINER%/in/{queueTrigger}", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="copy", path="%CONTAINER%/out/{queueTrigger}", connection="AzureWebJobsStorage")
def lookup(text: str, source: bytes, copy: func.Out[bytes]) -> None:
    copy.set(b"missing" if source is None else source.upper())


@app.queue_trigger(arg_name="msg", queue_name="%FAIL_QUEUE%", connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    logging.info("attempt %s", msg.dequeue_count)
    raise RuntimeError(f"cannot process {msg.get_body().decode()}")


@app.queue_trigger(arg_name="msg", queue_name="%START_QUEUE%", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def start_from_queue(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    body = msg.get_json()
    await client.start_new("greet", body["instance"], body)


@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%", run_on_startup=False, use_monitor=False)
@app.durable_client_input(client_name="client")
async def ticker(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("greet", None, {"past_due": timer.past_due})


@app.timer_trigger(arg_name="timer", schedule="%MONITOR_SCHEDULE%", use_monitor=True)
@app.blob_output(
    arg_name="record", path="%CONTAINER%/ticks/{rand-guid}.json", connection="AzureWebJobsStorage"
)
def monitored(timer: func.TimerRequest, record: func.Out[str]) -> None:
    record.set(json.dumps({"past_due": timer.past_due, "status": timer.schedule_status}))


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    name = yield context.call_activity("say_hello", context.get_input())
    return name


@app.activity_trigger(input_name="payload")
def say_hello(payload: dict) -> str:
    return f"hello {payload}"


@app.blob_trigger(arg_name="doc", path="%UPLOADS%/{name}.txt", connection="AzureWebJobsStorage")
@app.blob_output(
    arg_name="summary", path="%CONTAINER%/summaries/{name}.json", connection="AzureWebJobsStorage"
)
def summarize(doc: func.InputStream, summary: func.Out[str]) -> None:
    summary.set(json.dumps({"name": doc.name, "length": doc.length, "text": doc.read().decode()}))
