"""``GET /api/cases``: the cases the caller may read, filtered and paged, as JSON for other systems.

Query (all optional): ``stage``, ``runtimeStatus``, ``riskClass``, ``requester``, ``q`` (case or event id,
or its start), ``minAgeHours``, ``top`` (1..200, default 50), ``continuationToken`` (from the previous
page). Answer 200 ``{"cases": [...], "count", "continuationToken": str | null}``, newest first; each item
is :meth:`triggers.console_views.CaseRow.to_json` (stage, risk class, requester, runtime status, what it
waits on, outcome). 400 names a bad parameter; 401 without identity. Authorization level FUNCTION like the
other case routes (App Service Authentication supplies the identity).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from triggers.console_common import Unauthenticated, access, load_rows, viewer
from triggers.console_views import BadQuery, CaseQuery, page

bp = df.Blueprint()
logger = logging.getLogger("case.api")


def _json(status: int, body: dict) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


@bp.route(route="cases", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_cases(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The readable cases, filtered and paged (see the module docstring)."""
    try:
        principal = viewer(req)
    except Unauthenticated as exc:
        return _json(401, {"error": f"unauthenticated: {exc}"})
    try:
        query = CaseQuery.from_params(dict(req.params))
    except BadQuery as exc:
        return _json(400, {"error": str(exc), "fields": [exc.field]})
    rows = access().readable(principal, await load_rows(client))
    chunk, token = page(rows, query, datetime.now(UTC))
    body = {"cases": [r.to_json() for r in chunk], "count": len(chunk), "continuationToken": token}
    return _json(200, body)
