"""The host's ASGI application: extension routes, then ``/admin``, then HTTP triggers.

With ``Host.CORS`` in local.settings.json, CORS headers are added as Core Tools does. Oversized URLs and
header blocks are refused first (414 / 431, ``devhost.limits``).

Unless the app setting ``DEVHOST_AUTH_EMULATION`` is false, :mod:`devhost.http.easyauth` (development
only) serves ``/.auth/*`` sign-in and turns its session cookie into ``X-MS-CLIENT-PRINCIPAL*`` headers.

Order matters as in the Functions host, whose built-in routes (``/admin/...``,
``/runtime/webhooks/...``) are matched before function routes; the loader already rejects function
routes starting with ``admin`` or ``runtime``. Requests no route claims fall through to
:class:`devhost.http.trigger.HttpTriggerEndpoint` (404 when no function matches).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from devhost.extension import Extension
from devhost.http import easyauth
from devhost.http.admin import AdminView, admin_routes
from devhost.http.trigger import HttpTriggerEndpoint
from devhost.limits import RequestLimits


class ServedHost(AdminView, Protocol):
    """What the ASGI app needs of the host: the admin view plus the extensions whose routes it serves."""

    @property
    def extensions(self) -> Sequence[Extension]: ...


def build_asgi_app(host: ServedHost) -> Starlette:
    """The Starlette app serving ``host`` (its invoker and functions must exist)."""
    assert host.invoker is not None
    routes: list[BaseRoute] = []
    for ext in host.extensions:
        routes.extend(ext.routes())
    routes.extend(admin_routes(host))
    http = host.config.extension_options("http")
    triggers = HttpTriggerEndpoint(
        list(host.functions),
        host.config.route_prefix,
        host.invoker,
        custom_headers=dict(http.get("customHeaders") or {}),
        homepage=host.config.homepage_enabled,
    )
    middleware = [Middleware(RequestLimits),
                  *cors_middleware(host.config.cors_origins, host.config.cors_credentials)]
    if easyauth.enabled(host.config.setting(easyauth.ENABLE_SETTING)):  # development-only sign-in
        middleware.append(Middleware(easyauth.EasyAuthEmulation))
    app = Starlette(routes=routes, middleware=middleware)
    app.router.default = triggers
    return app


def cors_middleware(origins: Sequence[str], credentials: bool) -> list[Middleware]:
    """CORS only when local.settings.json ``Host.CORS`` names ``origins`` (``*`` = any), with any method
    and header, credentials when ``Host.CORSCredentials`` is true (Core Tools ``Startup.Configure``,
    docs/host-behaviour.md#http-triggers)."""
    if not origins:
        return []
    return [Middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["*"], allow_headers=["*"],
                       allow_credentials=credentials)]
