"""Tool adapters: the registry of external side effects a case can apply.

``get_adapter(name)`` returns the adapter registered under a tool name (the policy file names tools):

- ``webhook``: POST JSON with ``Idempotency-Key`` (shared/adapters/webhook.py);
- ``github-deployment-status``: deployment status on a GitHub deployment, reconcile first (github.py);
- ``noop`` / ``record``: no external effect, the ledger records the action (record.py).

Call adapters only through ``shared.ledger.apply_once`` with ``idempotency_key(source, event_id, action)``.
"""

from __future__ import annotations

from shared.adapters.base import ActionRequest, Outcome, ToolAdapter, idempotency_key
from shared.adapters.errors import (
    AdapterError,
    InvalidActionRequest,
    PermanentAdapterError,
    TransientAdapterError,
    UnknownAdapter,
)
from shared.adapters.github import GitHubDeploymentStatusAdapter
from shared.adapters.record import RecordAdapter
from shared.adapters.webhook import WebhookAdapter

_REGISTRY: dict[str, ToolAdapter] = {
    "webhook": WebhookAdapter(),
    "github-deployment-status": GitHubDeploymentStatusAdapter(),
    "noop": RecordAdapter("noop"),
    "record": RecordAdapter("record"),
}


def adapter_names() -> list[str]:
    """The registered tool names, sorted (the policy loader can validate its tools against them)."""
    return sorted(_REGISTRY)


def get_adapter(name: str) -> ToolAdapter:
    """The adapter registered under ``name``; raises :class:`UnknownAdapter` for any other name."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownAdapter(
            name, f"no tool adapter named {name!r}; known: {', '.join(adapter_names())}"
        ) from None


__all__ = [
    "ActionRequest",
    "AdapterError",
    "GitHubDeploymentStatusAdapter",
    "InvalidActionRequest",
    "Outcome",
    "PermanentAdapterError",
    "RecordAdapter",
    "ToolAdapter",
    "TransientAdapterError",
    "UnknownAdapter",
    "WebhookAdapter",
    "adapter_names",
    "get_adapter",
    "idempotency_key",
]
