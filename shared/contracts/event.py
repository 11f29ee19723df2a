"""The normalized inbound event: every ingress format becomes one :class:`BusinessEvent`.

CloudEvents, GitHub webhooks and plain JSON events (see ``shared/normalize/``) are all turned into this
model before anything else sees them; the orchestrator's input is ``event.model_dump(mode="json")``.
:func:`case_instance_id` derives the durable instance id from the event identity (source + id), so a
redelivered event maps onto the case it already opened.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Name of the orchestrator function every ingress starts (owned by orchestrations/case_workflow.py).
CASE_WORKFLOW = "case_workflow"

#: Dotted lower-case event type: at least two segments of [a-z0-9_-], e.g. ``payment.release``.
EVENT_TYPE_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$"
_EVENT_TYPE_RE = re.compile(EVENT_TYPE_PATTERN)

AttributeValue = str | int | float | bool | None


class BusinessEvent(BaseModel):
    """One inbound business event, whatever format and channel it came by.

    Fields:
        event_id: the sender's id of the event (CloudEvents ``id``, GitHub ``X-GitHub-Delivery``, plain
            ``id``); non-empty. With ``source`` it identifies the event (redeliveries share it).
        source: who emitted it (CloudEvents ``source``; ``github`` for GitHub webhooks; plain ``source`` or
            ``plain``).
        type: dotted lower-case type, e.g. ``payment.release``, ``refund.request``, ``account.change``,
            ``order.cancel``, ``document.received``, ``github.deployment.created``, ``github.member.added``,
            ``github.repository.transferred|privatized|publicized``, ``github.release.deleted``.
        subject: the target object (an order id, ``owner/repo``, ...), or None.
        requester: who asked for it (GitHub: the payload's ``sender.login``).
        occurred_at: when it happened, timezone-aware UTC (naive input is taken as UTC).
        format: ``cloudevents`` | ``github`` | ``plain``.
        channel: ``http`` | ``queue``.
        attributes: flat routing facts the policy reads without parsing ``data`` (e.g. ``environment``,
            ``amount``, ``currency``, ``repository``); values are JSON scalars.
        data: the original payload body (JSON object).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1, max_length=512)
    source: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=3, max_length=256)
    subject: str | None = None
    requester: str = Field(min_length=1, max_length=256)
    occurred_at: datetime
    format: Literal["cloudevents", "github", "plain"]
    channel: Literal["http", "queue"]
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _dotted_lower_case(cls, value: str) -> str:
        if not _EVENT_TYPE_RE.match(value):
            raise ValueError("must be dotted lower-case, e.g. 'payment.release'")
        return value

    @field_validator("event_id", "requester")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # year 9999 with a negative offset is past datetime.max in UTC
            raise ValueError("is outside the representable UTC range") from exc


#: The shape of the case ids this app hands out (:func:`case_instance_id`).
CASE_ID_PATTERN = r"^case-[0-9a-f]{32}$"
#: What the case routes accept as an instance id: the app's own ids, and instance ids an operator may give
#: a case through the Durable HTTP API (``restartWithNewInstanceId`` mints 32 hex digits): letters, digits,
#: ``-`` and ``_``, at most 100 characters. Anything else never reaches storage.
INSTANCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
_INSTANCE_ID_RE = re.compile(INSTANCE_ID_PATTERN)


def is_case_id(value: str) -> bool:
    """True when ``value`` may name a case (:data:`INSTANCE_ID_PATTERN`); checked before any storage call,
    so a malformed id (a NUL, 60,000 characters, ``../``) is answered 404 at once instead of reaching the
    storage SDK."""
    return isinstance(value, str) and len(value) <= 100 and _INSTANCE_ID_RE.fullmatch(value) is not None


def _github_object_identity(event: BusinessEvent) -> str | None:
    """The identity of the object a GitHub delivery is about, from the signed payload itself (so a captured
    body resent with a fresh ``X-GitHub-Delivery`` is recognised): the event name and action plus the
    deployment / release id, the repository id and member id, or the repository id and its ``updated_at``
    (repository events have no object of their own). None when the payload lacks them."""
    if event.format != "github":
        return None
    data = event.data

    def part(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    repository = part("repository")
    kind = event.type  # github.<event>.<action>
    key: Any
    if kind.startswith("github.deployment."):
        key = part("deployment").get("id")
    elif kind.startswith("github.release."):
        key = part("release").get("id")
    elif kind.startswith("github.member."):
        member = part("member")
        key = f"{repository.get('id')}:{member.get('id') or member.get('login')}" if member else None
    elif kind.startswith("github.repository."):
        key = f"{repository.get('id')}:{repository.get('updated_at')}" if repository.get("id") else None
    else:
        key = None
    return None if key in (None, "", "None:None") else f"{kind}|{key}"


def case_instance_id(event: BusinessEvent) -> str:
    """The durable instance id of the case opened by ``event``: ``case-`` + 32 hex digits.

    Deterministic in (source, event_id) only, so the same event delivered twice, or once over HTTP and once
    over the queue, maps onto one case. GitHub deliveries key on the payload's own identity instead
    (:func:`_github_object_identity`: event, action and object id), because ``X-GitHub-Delivery`` is not
    covered by the signature: a replayed signed body with a new delivery id maps onto the existing case.
    Only ``[a-z0-9-]``: valid as an instance id, a blob path segment and a table key.
    """
    identity = _github_object_identity(event)
    key = f"github|object|{identity}" if identity else f"{event.source}|{event.event_id}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return "case-" + digest[:32]
