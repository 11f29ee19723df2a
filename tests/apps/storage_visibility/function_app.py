"""Fixture app for the storage audit tests: a message that fails on its first delivery (so it comes back
after host.json visibilityTimeout) and blob inputs bound as str and as func.InputStream. Queue and
container names come from app settings; nothing devhost-specific."""

import json
import time

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="%RETRY_QUEUE%", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="record", path="%CONTAINER%/done/{Id}.json", connection="AzureWebJobsStorage")
def fails_once(msg: func.QueueMessage, record: func.Out[str]) -> None:
    if msg.dequeue_count == 1:
        raise RuntimeError("first delivery fails")
    record.set(json.dumps({"dequeue_count": msg.dequeue_count, "at": time.time()}))


@app.queue_trigger(arg_name="name", queue_name="%READ_QUEUE%", connection="AzureWebJobsStorage")
@app.blob_input(arg_name="text", path="%CONTAINER%/in/{queueTrigger}", connection="AzureWebJobsStorage")
@app.blob_input(arg_name="stream", path="%CONTAINER%/in/{queueTrigger}", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="summary", path="%CONTAINER%/read/{queueTrigger}.json",
                 connection="AzureWebJobsStorage")
def read_both(name: str, text: str, stream: func.InputStream, summary: func.Out[str]) -> None:
    summary.set(json.dumps({"text": text, "stream_name": stream.name, "stream_length": stream.length,
                            "stream_text": stream.read().decode()}))
