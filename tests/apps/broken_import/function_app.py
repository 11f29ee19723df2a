"""Imports a helper that does not exist."""
import azure.functions as func

from helpers.missing import thing  # noqa: F401

app = func.FunctionApp()
