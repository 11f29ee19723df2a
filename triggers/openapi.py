"""``GET /api/openapi.json``: an OpenAPI 3.1 document of every HTTP route the app registers.

Built at request time from the app's own function metadata (its function builders: each HTTP trigger's
``route`` and ``methods``), so a new route appears without editing this module; the
request bodies of the two POST routes and the principal headers are described from the contracts the
handlers enforce (``shared/normalize``, ``triggers/case_views.parse_decision_body``,
``shared/identity``). The bounded HTTP fuzz run (``tests/e2e/test_e2e_fuzz.py``) drives every operation
listed here. Spec: https://spec.openapis.org/oas/v3.1.0.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

OPENAPI_ROUTE = "openapi.json"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\??\}")

#: Request bodies of the POST routes (JSON Schema), keyed by route.
BODIES: dict[str, dict[str, Any]] = {
    "events": {
        "description": "A business event: plain JSON, CloudEvents 1.0 (structured or binary) or a GitHub "
        "webhook delivery (signed).",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "source": {"type": "string"},
            "requester": {"type": "string"},
            "subject": {"type": "string"},
            "data": {"type": "object"},
        },
    },
    "cases/{id}/decision": {
        "type": "object",
        "required": ["decision"],
        "properties": {
            "decision": {"enum": ["approve", "reject"]},
            "reason": {"type": "string"},
            "evidence_hash": {"type": "string"},
        },
    },
}
PRINCIPAL_HEADERS = [
    {"name": "X-MS-CLIENT-PRINCIPAL", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "App Service Authentication principal (base64 JSON); absent: 401 on case routes."},
    {"name": "X-MS-CLIENT-PRINCIPAL-NAME", "in": "header", "required": False, "schema": {"type": "string"}},
]


def http_routes(app: Any) -> list[tuple[str, list[str], str]]:
    """``(route, methods, function name)`` of every HTTP-triggered function of ``app``, sorted by route.

    Reads the function builders' functions: ``FunctionApp.get_functions`` may run once per app only (it
    records every name to refuse duplicates, so a second call raises; azure-functions 1.x
    ``validate_function_names``), and the host already called it."""
    found = []
    for fn in (b._function for b in app._function_builders):
        trigger = fn.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        spec = trigger.get_dict_repr()
        methods = [str(getattr(m, "value", m)).upper() for m in (spec.get("methods") or ["GET", "POST"])]
        found.append((str(spec.get("route") or fn.get_function_name()), methods, fn.get_function_name()))
    return sorted(found)


def document(app: Any, prefix: str = "/api") -> dict[str, Any]:
    """The OpenAPI document of ``app``'s HTTP routes under ``prefix``."""
    paths: dict[str, Any] = {}
    for route, methods, name in http_routes(app):
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in _PARAM.findall(route)
        ]
        path = prefix + "/" + _PARAM.sub(lambda m: "{" + m.group(1) + "}", route)
        item = paths.setdefault(path, {})
        for method in methods:
            operation: dict[str, Any] = {
                "operationId": f"{name}_{method.lower()}" if len(methods) > 1 else name,
                "parameters": params + ([] if route in ("health", OPENAPI_ROUTE) else PRINCIPAL_HEADERS),
                "responses": {"default": {"description": "JSON; 4xx names the problem, 503 has Retry-After"}},
            }
            if method in ("POST", "PUT", "PATCH") and route in BODIES:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": BODIES[route]}},
                }
            item[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Case workflow API", "version": "1"},
        "paths": paths,
    }


@bp.route(route=OPENAPI_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI document (see the module docstring)."""
    return func.HttpResponse(json.dumps(document(_the_app())), mimetype="application/json")


def _the_app() -> Any:
    """The loaded function app (the composition root's ``app``, whatever module name the host gave it):
    the ``FunctionApp`` that registered a function named ``openapi``. Importing ``function_app`` again here
    would build a second app with every function registered twice."""
    for module in list(sys.modules.values()):
        candidate = getattr(module, "app", None)
        if isinstance(candidate, func.FunctionRegister) and any(
            getattr(b, "_function", None) is not None and b._function.get_function_name() == "openapi"
            for b in candidate._function_builders
        ):
            return candidate
    raise LookupError("the function app is not loaded")
