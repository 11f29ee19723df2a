"""Route template forms, on a Durable Functions app (df.DFApp) with an empty route prefix."""

import json

import azure.durable_functions as df
import azure.functions as func
from more_routes import bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


def reply(name: str, req: func.HttpRequest) -> func.HttpResponse:
    body = {"function": name, "params": dict(req.route_params), "method": req.method}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="orders/{id:int}", methods=["GET"])
def order_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return reply("order_by_id", req)


@app.route(route="orders/{code:alpha}", methods=["GET"])
def order_by_code(req: func.HttpRequest) -> func.HttpResponse:
    return reply("order_by_code", req)


@app.route(route="orders/{anything}", methods=["GET", "DELETE"])
def order_other(req: func.HttpRequest) -> func.HttpResponse:
    return reply("order_other", req)


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return reply("files", req)


@app.route(route="docs/{page:int?}")
def docs(req: func.HttpRequest) -> func.HttpResponse:
    return reply("docs", req)


@app.route(route="list/{page=1}")
def listing(req: func.HttpRequest) -> func.HttpResponse:
    return reply("listing", req)


@app.route(route="ranged/{n:range(1,10)}")
def ranged(req: func.HttpRequest) -> func.HttpResponse:
    return reply("ranged", req)


@app.route(route="guid/{g:guid}")
def by_guid(req: func.HttpRequest) -> func.HttpResponse:
    return reply("by_guid", req)


@app.route(route="codes/{code:regex(^[A-Z]{{3}}$)}")
def by_code(req: func.HttpRequest) -> func.HttpResponse:
    return reply("by_code", req)


@app.route(route="Mixed/Case/{a}/{b:length(2,4)}", methods=["post"])
def mixed(req: func.HttpRequest) -> func.HttpResponse:
    return reply("mixed", req)


@app.route()
def default_route(req: func.HttpRequest) -> func.HttpResponse:
    return reply("default_route", req)
