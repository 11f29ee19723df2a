import azure.functions as func

app = func.FunctionApp()


@app.route(route="admin/users")
def users(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("x")
