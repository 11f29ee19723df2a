"""Links people follow from notifications: the decision page of a case.

A notification carries a link, never a power: following it (a GET, which mail scanners also do) only shows
the page; deciding takes the signed-in POST of its form (``triggers/console.py``).

The app's public base URL is the app setting ``CASE_PUBLIC_BASE_URL`` when set (e.g. a custom domain),
else ``https://`` + ``WEBSITE_HOSTNAME`` (set by App Service: https://learn.microsoft.com/azure/app-service/reference-app-settings;
devhost sets ``localhost:<port>``, served over ``http``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

BASE_URL_SETTING = "CASE_PUBLIC_BASE_URL"
#: Notification kinds that ask someone to decide, and so carry the decision page link.
DECISION_KINDS = frozenset({"approval_requested", "approval_escalated", "approval_reminder"})


def public_base_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``scheme://host[:port]`` of the app (no trailing slash), or None when neither setting is there."""
    env = os.environ if environ is None else environ
    configured = (env.get(BASE_URL_SETTING) or "").strip().rstrip("/")
    if configured:
        return configured
    host = (env.get("WEBSITE_HOSTNAME") or "").strip()
    if not host:
        return None
    local = host.split(":", 1)[0] in ("localhost", "127.0.0.1")
    return f"{'http' if local else 'https'}://{host}"


def decision_page_url(case_id: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The decision page of ``case_id`` (``<base>/api/inbox/<case id>``), or None without a base URL."""
    base = public_base_url(environ)
    return f"{base}/api/inbox/{quote(case_id, safe='')}" if base else None
