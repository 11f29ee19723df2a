"""Real GitHub webhook payloads from the ``@octokit/webhooks-examples`` npm package, signed like GitHub does.

``example("deployment", "created")`` returns a payload from ``node_modules/@octokit/webhooks-examples/
api.github.com/index.json``; ``delivery(...)`` returns the headers and raw body GitHub would send for it.
Other test areas (e2e, demo) may import this module.
"""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path
from typing import Any

from shared.normalize.github import sign

ROOT = Path(__file__).resolve().parents[3]
INDEX = ROOT / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
TEST_SECRET = "test-webhook-secret-0123456789"


@functools.cache
def _index() -> list[dict[str, Any]]:
    return json.loads(INDEX.read_text(encoding="utf-8"))


def example(event: str, action: str | None = None) -> dict[str, Any]:
    """The first example payload of ``event`` whose ``action`` is ``action`` (a fresh copy)."""
    for entry in _index():
        if entry["name"] == event:
            for payload in entry["examples"]:
                if action is None or payload.get("action") == action:
                    return json.loads(json.dumps(payload))
    raise LookupError(f"no @octokit/webhooks-examples payload for {event}/{action}")


def delivery(
    event: str,
    payload: dict[str, Any],
    *,
    secret: str | None = TEST_SECRET,
    delivery_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of a GitHub delivery of ``payload``: JSON body, event and delivery headers, and
    ``X-Hub-Signature-256`` computed with ``secret`` (omitted when ``secret`` is None)."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return headers, body
