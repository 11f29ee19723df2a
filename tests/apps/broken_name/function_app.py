import azure.functions as func

app = func.FunctionApp()


@app.function_name("1st-function")
@app.route(route="x")
def first(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("x")
