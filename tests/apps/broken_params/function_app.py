import azure.functions as func

app = func.FunctionApp()


@app.route(route="x")
def extra(req: func.HttpRequest, mystery: str) -> func.HttpResponse:
    return func.HttpResponse("x")
