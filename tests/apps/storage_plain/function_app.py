"""Fixture app: host.json ``messageEncoding: none`` (plain-text queue messages echoed into a blob) and a
yearly timer with ``run_on_startup``."""

import json

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="body", queue_name="%PLAIN_QUEUE%", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="echo", path="%CONTAINER%/echo/{Id}.txt", connection="AzureWebJobsStorage")
def plain(body: str, echo: func.Out[str]) -> None:
    echo.set(body)


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True, use_monitor=False)
@app.blob_output(
    arg_name="record", path="%CONTAINER%/startup/{rand-guid}.json", connection="AzureWebJobsStorage"
)
def on_startup(timer: func.TimerRequest, record: func.Out[str]) -> None:
    record.set(json.dumps({"past_due": timer.past_due, "schedule": timer.schedule}))
