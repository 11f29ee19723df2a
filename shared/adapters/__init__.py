"""Tool adapters: the registry of external side effects a case can apply.

``get_adapter(name)`` returns the adapter registered under a tool name (the policy file names tools):

- ``webhook``: POST JSON with ``Idempotency-Key`` (shared/adapters/webhook.py);
- ``github-deployment-status``: deployment status on a GitHub deployment, reconcile first (github.py);
- ``noop`` / ``record``: no external effect, the ledger records the action (record.py).

Call adapters only through ``shared.ledger.apply_once`` with ``idempotency_key(source, event_id, action)``.

``get_adapter(name, settings)`` honours ``settings.tool_sink`` (app setting ``CASE_TOOL_SINK``): a listed
HTTP tool runs against the local sink (``sink.py``) and sends nothing. :func:`configuration_problems` lists
what keeps a tool from acting (a missing credential); ``function_app.py`` logs each once at start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx

from shared.adapters.base import ActionRequest, Outcome, ToolAdapter, idempotency_key
from shared.adapters.errors import (
    AdapterError,
    InvalidActionRequest,
    PermanentAdapterError,
    ToolNotConfigured,
    TransientAdapterError,
    UnknownAdapter,
    permanent_failure,
)
from shared.adapters.github import MISSING_TOKEN, GitHubDeploymentStatusAdapter, sink_answer
from shared.adapters.record import RecordAdapter
from shared.adapters.sink import Answer, SinkAdapter, ok_answer
from shared.adapters.webhook import WebhookAdapter
from shared.settings import AppSettings

_REGISTRY: dict[str, ToolAdapter] = {
    "webhook": WebhookAdapter(),
    "github-deployment-status": GitHubDeploymentStatusAdapter(),
    "noop": RecordAdapter("noop"),
    "record": RecordAdapter("record"),
}


def adapter_names() -> list[str]:
    """The registered tool names, sorted (the policy loader can validate its tools against them)."""
    return sorted(_REGISTRY)


#: Tools the local sink can stand in for: how to build the adapter around a transport, what to answer.
_SINKABLE: dict[str, tuple[Callable[[httpx.BaseTransport], ToolAdapter], Answer]] = {
    "github-deployment-status": (
        lambda transport: GitHubDeploymentStatusAdapter(transport, require_token=False),
        sink_answer,
    ),
    "webhook": (lambda transport: WebhookAdapter(transport), ok_answer),
}


def get_adapter(name: str, settings: AppSettings | None = None) -> ToolAdapter:
    """The adapter registered under ``name`` (its local-sink stand-in when ``settings.tool_sink`` lists
    it); raises :class:`UnknownAdapter` for any other name."""
    try:
        adapter = _REGISTRY[name]
    except KeyError:
        raise UnknownAdapter(
            name, f"no tool adapter named {name!r}; known: {', '.join(adapter_names())}"
        ) from None
    if settings is not None and name in settings.tool_sink and name in _SINKABLE:
        build, answer = _SINKABLE[name]
        return SinkAdapter(name, build, answer)
    return adapter


def configuration_problems(settings: AppSettings, in_use: Iterable[str]) -> list[str]:
    """One sentence per tool in ``in_use`` (adapter names the policy uses) that cannot act with
    ``settings``, plus unknown names in ``CASE_TOOL_SINK``. Empty when all is well. Never raises."""
    problems = [
        f"CASE_TOOL_SINK names {name!r}, which is not a tool the local sink can stand in for "
        f"({', '.join(sorted(_SINKABLE))})"
        for name in sorted(settings.tool_sink - set(_SINKABLE))
    ]
    used = set(in_use)
    github = GitHubDeploymentStatusAdapter.name
    if github in used and github not in settings.tool_sink and not settings.github_token:
        problems.append(f"tool {github}: {MISSING_TOKEN}")
    return problems


__all__ = [
    "ActionRequest",
    "AdapterError",
    "GitHubDeploymentStatusAdapter",
    "InvalidActionRequest",
    "Outcome",
    "PermanentAdapterError",
    "RecordAdapter",
    "SinkAdapter",
    "ToolAdapter",
    "ToolNotConfigured",
    "TransientAdapterError",
    "UnknownAdapter",
    "WebhookAdapter",
    "adapter_names",
    "configuration_problems",
    "get_adapter",
    "idempotency_key",
    "permanent_failure",
]
