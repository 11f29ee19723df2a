import azure.functions as func

app = func.FunctionApp()


@app.route(route="items/{id}", methods=["GET", "POST"])
def first(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("1")


@app.route(route="/Items/{id}/", methods=["POST"])
def second(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("2")
