"""The tool adapter contract: :class:`ActionRequest` in, a JSON dict out.

An adapter performs one kind of external side effect. It is called only through the ledger
(``shared.ledger.apply_once``) with the idempotency key of :func:`idempotency_key` (derived from the
business event, never the instance id), and must be safe to call
again with the same key after a crash between acting and recording: either the downstream honours the key
(webhook: ``Idempotency-Key`` header) or the adapter reads the target's state first and skips an effect it
finds already applied (GitHub: reconcile before retry).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from shared.settings import AppSettings

Outcome = Literal["approved", "auto", "rejected", "expired"]


class ActionRequest(BaseModel):
    """What to apply, after the policy and any approval decided it.

    Fields: ``tool`` (adapter name), ``action`` (business action, e.g. ``release_payment``), ``instance_id``
    (the case), ``target`` (the object acted on, or None), ``parameters`` (adapter-specific JSON, see each
    adapter), ``outcome`` (``approved`` by humans, ``auto`` without approval, ``rejected``, ``expired``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    action: str = Field(min_length=1)
    instance_id: str = Field(min_length=1)
    target: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    outcome: Outcome


@runtime_checkable
class ToolAdapter(Protocol):
    """One external tool. ``apply`` returns a JSON-serializable dict (recorded in the ledger) or raises an
    ``shared.adapters.errors.AdapterError``."""

    name: str

    def apply(self, request: ActionRequest, idempotency_key: str, settings: AppSettings) -> dict[str, Any]:
        """Perform the side effect of ``request`` (safe to repeat with the same ``idempotency_key``)."""
        ...


def event_digest(source: str, event_id: str) -> str:
    """32 hex characters identifying one business event (sha256 of ``source``, a newline, ``event_id``)."""
    return hashlib.sha256(f"{source}\n{event_id}".encode()).hexdigest()[:32]


def idempotency_key(source: str, event_id: str, action: str) -> str:
    """The ledger and downstream idempotency key of one action of one business event:
    ``{event_digest(source, event_id)}:{action}`` (ASCII, safe in an HTTP header).

    Derived from the event (source + event id + action), never from the instance id: a re-run of the
    same event (a redelivery, a restart under a new instance id) maps to the same key, so the ledger and
    the downstream see one effect.
    """
    return f"{event_digest(source, event_id)}:{action}"
