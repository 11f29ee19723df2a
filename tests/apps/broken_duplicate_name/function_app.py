import azure.functions as func

app = func.FunctionApp()


@app.function_name("same")
@app.route(route="a")
def a(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("a")


@app.function_name("same")
@app.route(route="b")
def b(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("b")
