"""Fixture app: a plain func.FunctionApp composed from a df.Blueprint, as the Python v2 docs show."""

import azure.functions as func
from greet_blueprint import bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)
