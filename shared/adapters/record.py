"""The record-only adapters ``noop`` and ``record``: actions with no external effect.

They return a small JSON dict describing the action, which the ledger stores; useful for read actions and for
business actions whose effect is the case record itself (e.g. ``document.received``).
"""

from __future__ import annotations

from typing import Any

from shared.adapters.base import ActionRequest
from shared.settings import AppSettings


class RecordAdapter:
    """Touches nothing outside.

    ``apply`` returns ``{"tool", "action", "target", "outcome", "idempotency_key", "recorded": True}``.
    """

    def __init__(self, name: str = "record") -> None:
        self.name = name

    def apply(self, request: ActionRequest, idempotency_key: str, settings: AppSettings) -> dict[str, Any]:
        """Return the description of the action; no side effect."""
        return {
            "tool": self.name,
            "action": request.action,
            "target": request.target,
            "outcome": request.outcome,
            "idempotency_key": idempotency_key,
            "recorded": True,
        }
