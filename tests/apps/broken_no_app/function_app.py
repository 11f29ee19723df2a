"""Forgot to create the app object."""
import azure.functions as func


def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hi")
