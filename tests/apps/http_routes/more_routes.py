"""A blueprint: the remaining constraint types."""

import json

import azure.functions as func

bp = func.Blueprint()


def reply(name: str, req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"function": name, "params": dict(req.route_params)}),
                             mimetype="application/json")


@bp.route(route="typed/{b:bool}/{d:datetime}/{x:double}/{l:long}")
def typed(req: func.HttpRequest) -> func.HttpResponse:
    return reply("typed", req)


@bp.route(route="sized/{s:minlength(2):maxlength(3)}/{m:min(5)}/{n:max(5)}")
def sized(req: func.HttpRequest) -> func.HttpResponse:
    return reply("sized", req)


@bp.route(route="archive/{name}.{ext}")
def archive(req: func.HttpRequest) -> func.HttpResponse:
    return reply("archive", req)
