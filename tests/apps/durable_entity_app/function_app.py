"""Fixture app for durable entities: Microsoft's v1 ``samples/counter_entity`` (Azure/azure-functions-durable-
python) ported to the v2 programming model, plus an account entity and a transfer orchestration.

Counter: ``add`` (input: amount), ``reset``, ``get``; the state is the count, every operation returns it.
Account: ``deposit`` / ``withdraw`` (input: amount; withdrawing more than the balance raises, so the caller
sees an exception), ``balance``. ``transfer`` moves ``{"source", "target", "amount"}`` between two accounts
with ``call_entity`` (withdraw, then deposit) and returns ``"moved"`` or ``"refused: ..."``. Tally is a
counter for the crash test: its first ``slow_add`` leaves the file ``slow_add`` in ``ENTITY_MARKER_DIR`` and
sleeps 3 s (the test kills the host meanwhile); later ones add at once.
"""

import json
import os
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


# -- entities -------------------------------------------------------------------------------------------
@app.entity_trigger(context_name="context")
def Counter(context: df.DurableEntityContext) -> None:
    """The sample's Counter entity (samples/counter_entity/Counter/__init__.py)."""
    current_value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        current_value += context.get_input()
    elif operation == "reset":
        current_value = 0
    elif operation == "delete":
        context.destruct_on_exit()
        return
    context.set_state(current_value)
    context.set_result(current_value)


@app.entity_trigger(context_name="context", entity_name="Account")
def account_entity(context: df.DurableEntityContext) -> None:
    """A bank account: the state is the balance (int, starts at 0)."""
    balance = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "deposit":
        balance += int(context.get_input())
    elif operation == "withdraw":
        amount = int(context.get_input())
        if amount > balance:
            raise ValueError(f"insufficient funds: balance {balance}, asked {amount}")
        balance -= amount
    elif operation != "balance":
        raise ValueError(f"unknown operation {operation!r}")
    context.set_state(balance)
    context.set_result(balance)


@app.entity_trigger(context_name="context", entity_name="Tally")
def tally_entity(context: df.DurableEntityContext) -> None:
    """A counter whose first ``slow_add`` is slow (see the module docstring)."""
    total = context.get_state(lambda: 0)
    marker_dir = os.environ.get("ENTITY_MARKER_DIR")
    if context.operation_name == "slow_add" and marker_dir and not Path(marker_dir, "slow_add").exists():
        Path(marker_dir, "slow_add").touch()
        time.sleep(3)
    context.set_state(total + int(context.get_input()))


# -- orchestrations -------------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def counter_orchestration(context: df.DurableOrchestrationContext):
    """The sample's DurableOrchestration: signal ``add`` 3, then call ``get`` (key from the input)."""
    entity_id = df.EntityId("Counter", context.get_input() or "myCounter")
    context.signal_entity(entity_id, "add", 3)
    state = yield context.call_entity(entity_id, "get")
    return state


@app.orchestration_trigger(context_name="context")
def transfer(context: df.DurableOrchestrationContext):
    """Move money between two Account entities; a refused withdrawal surfaces as an exception."""
    order = context.get_input()
    try:
        yield context.call_entity(df.EntityId("Account", order["source"]), "withdraw", order["amount"])
    except Exception as exc:  # the entity operation's error, as the SDK raises it
        return f"refused: {exc}"
    yield context.call_entity(df.EntityId("Account", order["target"]), "deposit", order["amount"])
    return "moved"


# -- client functions -----------------------------------------------------------------------------------
@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The sample's DurableTrigger: start an orchestration (body: JSON input)."""
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], None, json.loads(body) if body else None)
    return client.create_check_status_response(req, instance_id)


@app.route(route="entities/{name}/{key}/{op}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Signal an entity through the SDK's ``client.signal_entity`` (body: JSON input, optional)."""
    body = req.get_body()
    entity_id = df.EntityId(req.route_params["name"], req.route_params["key"])
    await client.signal_entity(entity_id, req.route_params["op"], json.loads(body) if body else None)
    return func.HttpResponse(status_code=202)


@app.route(route="entities/{name}/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The sample's RetrieveEntity: the state through ``client.read_entity_state`` (404 when absent)."""
    name, key = req.route_params["name"], req.route_params["key"]
    response = await client.read_entity_state(df.EntityId(name, key))
    if not response.entity_exists:
        return func.HttpResponse("Entity not found", status_code=404)
    return func.HttpResponse(json.dumps({"entity": name, "key": key, "state": response.entity_state}),
                             mimetype="application/json")
