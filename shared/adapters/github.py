"""The GitHub deployment-status adapter: reports a deployment case's outcome on the deployment.

``POST {statuses_url}`` with ``{"state", "description", "environment"?, "log_url"?}``
(https://docs.github.com/rest/deployments/statuses#create-a-deployment-status); ``state`` is ``success``
when the case was approved (or ran without approval) and ``failure`` when it was rejected or expired.

GitHub has no idempotency key for deployment statuses, so the adapter reconciles before it acts: it lists the
deployment's statuses (``GET {statuses_url}``) and skips the POST when one already carries this action's
marker ``[case:<16 hex of sha256(idempotency key)>]`` at the end of its description. That closes a
crash between acting and recording in the ledger (a truly concurrent double run is prevented by the
ledger's claim).

URLs from the payload (``https://api.github.com/repos/...``, or ``https://ghe.example/api/v3/repos/...``) are
rebased onto ``settings.github_api_url`` so tests point the adapter at a local server. The token comes from
``settings.github_token`` (``Authorization: Bearer``) and is never logged or returned. Creating a deployment
status needs one (https://docs.github.com/rest/deployments/statuses#create-a-deployment-status): without it
the adapter raises :class:`ToolNotConfigured` before any call (a configuration error; the case fails at once).
Locally, ``CASE_TOOL_SINK=github-deployment-status`` runs the adapter against :func:`sink_answer` instead
(``shared/adapters/sink.py``): no token needed, nothing sent, the would-be requests recorded.

Parameters: ``statuses_url`` (required; the normalizer puts the payload's ``deployment.statuses_url`` in the
event attribute ``deployment_statuses_url``), ``environment``, ``log_url``, ``description`` (optional).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from shared.adapters.base import ActionRequest
from shared.adapters.errors import PermanentAdapterError, ToolNotConfigured
from shared.adapters.http_send import client_for, require_http_url, send
from shared.settings import AppSettings

MAX_DESCRIPTION = 140  # GitHub's limit for a deployment status description
MISSING_TOKEN = (
    "app setting GITHUB_TOKEN is empty, so no deployment status can be posted; set it, or for local runs "
    "route the tool to the local sink with CASE_TOOL_SINK=github-deployment-status"
)
STATE_BY_OUTCOME = {"approved": "success", "auto": "success", "rejected": "failure", "expired": "failure"}


def rebase_api_url(url: str, api_base: str) -> str:
    """``url``'s path (and query) on ``api_base``: strips a GitHub Enterprise ``/api/v3`` prefix first.

    ``rebase_api_url("https://api.github.com/repos/o/r/deployments/1/statuses", "http://127.0.0.1:8123")``
    is ``"http://127.0.0.1:8123/repos/o/r/deployments/1/statuses"``.
    """
    parts = urlsplit(url)
    path = parts.path
    if path.startswith("/api/v3/"):
        path = path[len("/api/v3") :]
    query = f"?{parts.query}" if parts.query else ""
    return api_base.rstrip("/") + path + query


def marker(idempotency_key: str) -> str:
    """The tag ending the description of a status this adapter posted for ``idempotency_key``."""
    return "[case:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16] + "]"


class GitHubDeploymentStatusAdapter:
    """Posts a deployment status for a deployment case; name ``github-deployment-status``.

    ``apply`` returns ``{"tool", "state", "status_id", "status_url", "reconciled"}``; ``reconciled`` is
    True when an existing status with this action's marker was found and no POST was made. Raises
    :class:`InvalidActionRequest` (no ``statuses_url``), :class:`TransientAdapterError` (5xx, 429, network),
    :class:`PermanentAdapterError` (other 4xx, e.g. a bad token).
    """

    name = "github-deployment-status"

    def __init__(self, transport: httpx.BaseTransport | None = None, *, require_token: bool = True) -> None:
        self._transport = transport
        self._require_token = require_token

    def apply(self, request: ActionRequest, idempotency_key: str, settings: AppSettings) -> dict[str, Any]:
        """Reconcile, then post the status unless it is already there. Raises :class:`ToolNotConfigured`
        when ``GITHUB_TOKEN`` is empty (unless built for the sink, ``require_token=False``)."""
        if self._require_token and not settings.github_token:
            raise ToolNotConfigured(self.name, "GITHUB_TOKEN", MISSING_TOKEN)
        statuses_url = require_http_url(
            self.name, request.parameters, "statuses_url", "the deployment's statuses_url is required"
        )
        url = rebase_api_url(statuses_url, settings.github_api_url)
        state = STATE_BY_OUTCOME[request.outcome]
        tag = marker(idempotency_key)
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "case-workflow",
        }
        if settings.github_token:
            headers["Authorization"] = f"Bearer {settings.github_token}"

        with client_for(settings.http_timeout_s, self._transport, headers) as client:
            existing = self._find_existing(client, url, tag)
            if existing is not None:
                return self._result(existing, reconciled=True)
            summary = str(
                request.parameters.get("description") or f"Case {request.instance_id}: {request.outcome}"
            )
            body: dict[str, Any] = {
                "state": state,
                "description": summary[: MAX_DESCRIPTION - len(tag) - 1] + " " + tag,
            }
            for optional in ("environment", "log_url"):
                if isinstance(request.parameters.get(optional), str):
                    body[optional] = request.parameters[optional]
            created = self._json(self._send(client, "POST", url, json=body))
        return self._result(created, reconciled=False)

    def _find_existing(self, client: httpx.Client, url: str, tag: str) -> dict[str, Any] | None:
        statuses = self._json(self._send(client, "GET", url, params={"per_page": 100}))
        if not isinstance(statuses, list):
            raise PermanentAdapterError(self.name, "listing deployment statuses did not return a JSON array")
        for status in statuses:
            if isinstance(status, dict) and str(status.get("description") or "").endswith(tag):
                return status
        return None

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return send(
            client, self.name, method, url, subject=method, peer="the GitHub API",
            timeout_text=f"{method} timed out", **kwargs,
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PermanentAdapterError(self.name, "the GitHub API answered with non-JSON") from exc

    def _result(self, status: dict[str, Any], *, reconciled: bool) -> dict[str, Any]:
        return {
            "tool": self.name,
            "state": status.get("state"),
            "status_id": status.get("id"),
            "status_url": status.get("url"),
            "reconciled": reconciled,
        }


def sink_answer(request: httpx.Request) -> httpx.Response:
    """What the local sink answers in GitHub's place: no statuses yet on ``GET``, and on ``POST`` a created
    status echoing the body (``id`` 0, ``url`` the statuses URL) with GitHub's 201."""
    if request.method == "GET":
        return httpx.Response(200, json=[])
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        body = {}
    return httpx.Response(
        201, json={"id": 0, "url": str(request.url), "state": body.get("state"),
                   "description": body.get("description")},
    )
