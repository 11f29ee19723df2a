"""HTTP, queue, timer and activity functions side by side (a user's mixed app)."""

import logging

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="ping", methods=["GET", "POST"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"pong:{req.get_body().decode()}")


@app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="results", connection="AzureWebJobsStorage")
@app.blob_input(arg_name="cfg", path="config/{queueTrigger}.txt", connection="AzureWebJobsStorage")
def worker(msg: str, out: func.Out[str], cfg: str) -> None:
    if msg == "skip":
        return
    out.set(f"{msg}|{cfg}")


@app.queue_trigger(arg_name="msg", queue_name="forward", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="$return", queue_name="forwarded", connection="AzureWebJobsStorage")
def forward(msg: str) -> str:
    return msg.upper()


@app.queue_trigger(arg_name="msg", queue_name="oops", connection="AzureWebJobsStorage")
def returns_value(msg: str) -> None:
    return "a value without a $return binding"


@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    logging.info("tick")


@app.activity_trigger(input_name="payload")
def echo_activity(payload: str, context: func.Context) -> dict:
    return {"payload": payload, "context_type": type(context).__name__}


@app.activity_trigger(input_name="payload")
def quiet(payload: str) -> str:
    return payload


ATTEMPTS: list[int] = []


@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:30")
@app.queue_trigger(arg_name="msg", queue_name="flaky", connection="AzureWebJobsStorage")
def flaky(msg: str, context: func.Context) -> None:
    ATTEMPTS.append(context.retry_context.retry_count)
    if msg == "always" or context.retry_context.retry_count < 1:
        raise RuntimeError(f"attempt {context.retry_context.retry_count} failed")


@app.route(route="config/{section}", methods=["POST"])
@app.blob_input(arg_name="doc", path="config/{section}-{name}.txt", connection="AzureWebJobsStorage")
def read_config(req: func.HttpRequest, doc: str) -> func.HttpResponse:
    return func.HttpResponse(doc or "<missing>")
