"""Functions registered through a blueprint, with a named HTTP output instead of $return."""

import azure.functions as func

bp = func.Blueprint()


@bp.route(route="named-output", methods=["GET"], binding_arg_name="res")
def named_output(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
    res.set(func.HttpResponse("from the named output", status_code=203))


@bp.function_name("Renamed_Function")
@bp.route(route="bp/{*rest}")
def catch_all(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("rest", "<none>"))
