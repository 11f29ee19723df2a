"""Plain logic behind the case list, the inbox and the console (no Azure Functions types, no I/O).

Input: the task hub's status objects (``triggers.case_source.list_instances``). Each ``case_workflow``
instance becomes a :class:`CaseRow`, joined with the custom status of its current approval tier
(``approval_tier`` instance named by ``approvalInstanceId``: who approved so far). Rows are then filtered
(:class:`CaseQuery`), paged (newest first, keyset continuation token) and split into inbox sections.

Who may read or decide is decided by :class:`Access` (``shared.access`` rules); this module only applies it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.case_errors import InputError
from shared.contracts.event import CASE_WORKFLOW
from shared.identity import Principal, same_identity

APPROVAL_TIER = "approval_tier"
MAX_TOP = 200
DEFAULT_TOP = 50
STAGES = ("received", "classified", "awaiting_approval", "ready_to_apply", "completed", "rejected",
          "expired", "failed")
RISK_CLASSES = ("read", "write", "privileged", "irreversible")
RUNTIME_STATUSES = ("Pending", "Running", "Completed", "Failed", "Terminated", "Suspended")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 text as an aware UTC datetime, or None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class CaseRow:
    """One case as lists show it. Times are ISO 8601 UTC text as stored; ``custom`` is the raw custom
    status (``CaseStatus`` JSON), ``progress`` the current tier's custom status (or None)."""

    case_id: str
    runtime_status: str
    created: str
    updated: str
    custom: dict[str, Any]
    progress: dict[str, Any] | None = None

    @property
    def stage(self) -> str:
        """The case's stage (``received`` until the orchestrator published one)."""
        return str(self.custom.get("stage") or "received")

    @property
    def event_id(self) -> str | None:
        """The business event's id."""
        return self.custom.get("eventId")

    @property
    def event_type(self) -> str | None:
        """The business event's type."""
        return self.custom.get("eventType")

    @property
    def requester(self) -> str | None:
        """Who asked for the action."""
        return self.custom.get("requester")

    @property
    def risk_class(self) -> str | None:
        """The effective risk class (None until classified)."""
        return self.custom.get("riskClass")

    @property
    def pending(self) -> dict[str, Any] | None:
        """The pending approval request (``ApprovalRequest`` JSON) while awaiting approval, else None."""
        pending = self.custom.get("pendingApproval")
        return pending if self.stage == "awaiting_approval" and isinstance(pending, dict) else None

    @property
    def approved_by(self) -> list[str]:
        """Who approved in the current tier so far (carried-over approvals included)."""
        approved = (self.progress or {}).get("approvedBy")
        return [a for a in approved if isinstance(a, str)] if isinstance(approved, list) else []

    @property
    def required(self) -> int | None:
        """Approvals the pending tier needs, or None when not awaiting approval."""
        pending = self.pending
        return int(pending.get("required") or 1) if pending else None

    @property
    def expires_at(self) -> str | None:
        """When the pending tier's timer fires (ISO UTC), or None."""
        pending = self.pending
        return pending.get("expires_at") if pending else None

    @property
    def outcome(self) -> dict[str, Any] | None:
        """The final outcome (``Outcome`` JSON) once the case ended."""
        outcome = self.custom.get("outcome")
        return outcome if isinstance(outcome, dict) else None

    def to_json(self) -> dict[str, Any]:
        """One item of ``GET /api/cases``."""
        pending = self.pending
        return {
            "caseId": self.case_id,
            "eventId": self.event_id,
            "eventType": self.event_type,
            "requester": self.requester,
            "stage": self.stage,
            "riskClass": self.risk_class,
            "runtimeStatus": self.runtime_status,
            "createdTime": self.created,
            "lastUpdatedTime": self.updated,
            "policyVersion": self.custom.get("policyVersion"),
            "waitingOn": None if pending is None else {
                "tier": pending.get("tier"),
                "tierCount": pending.get("tier_count"),
                "roles": pending.get("roles", []),
                "required": self.required,
                "approvedBy": self.approved_by,
                "expiresAt": pending.get("expires_at"),
            },
            "outcome": None if self.outcome is None else {
                "status": self.outcome.get("status"), "reason": self.outcome.get("reason")},
        }


def case_rows(statuses: Iterable[dict[str, Any]]) -> list[CaseRow]:
    """:class:`CaseRow` of every ``case_workflow`` status object, joined with its current tier's status."""
    tiers: dict[str, dict[str, Any]] = {}
    cases: list[dict[str, Any]] = []
    for status in statuses:
        name = status.get("name")
        if name == CASE_WORKFLOW:
            cases.append(status)
        elif name == APPROVAL_TIER and isinstance(status.get("customStatus"), dict):
            tiers[str(status.get("instanceId"))] = status["customStatus"]
    rows = []
    for status in cases:
        custom = status.get("customStatus") if isinstance(status.get("customStatus"), dict) else {}
        tier_id = custom.get("approvalInstanceId")
        rows.append(CaseRow(
            case_id=str(status.get("instanceId")),
            runtime_status=str(status.get("runtimeStatus") or ""),
            created=str(status.get("createdTime") or ""),
            updated=str(status.get("lastUpdatedTime") or ""),
            custom=custom,
            progress=tiers.get(tier_id) if isinstance(tier_id, str) else None,
        ))
    return rows


@dataclass(frozen=True)
class Access:
    """The authorization rules applied to rows: ``may_read(principal, custom_status)`` and
    ``may_decide(principal, custom_status, tier_roles)`` (``shared.access`` semantics)."""

    may_read: Callable[[Principal, dict[str, Any]], bool]
    may_decide: Callable[[Principal, dict[str, Any], list[str]], bool]

    def readable(self, principal: Principal, rows: Iterable[CaseRow]) -> list[CaseRow]:
        """The rows ``principal`` may read."""
        return [row for row in rows if self.may_read(principal, row.custom)]

    def decides_now(self, principal: Principal, row: CaseRow) -> bool:
        """True when ``principal`` may decide ``row``'s pending tier now: it is awaiting approval, they
        hold a role of the tier, are not the requester and have not approved in it yet."""
        pending = row.pending
        if pending is None or row.runtime_status != "Running":
            return False
        roles = [r for r in pending.get("roles", []) if isinstance(r, str)]
        if not self.may_decide(principal, row.custom, roles):
            return False
        return not any(_same(principal.name, name) for name in row.approved_by)


def _same(a: str, b: str) -> bool:
    return same_identity(a, b)


class BadQuery(InputError, ValueError):
    """A list query parameter is invalid; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class CaseQuery:
    """Filters of a case list (all optional): ``stage``, ``runtime_status``, ``risk_class``, ``requester``
    (same identity), ``search`` (a case id or event id, or the start of one), ``min_age_s`` (created at least
    that many seconds before ``now``); ``top`` rows per page and the ``continuation`` token."""

    stage: str | None = None
    runtime_status: str | None = None
    risk_class: str | None = None
    requester: str | None = None
    search: str | None = None
    min_age_s: int | None = None
    top: int = DEFAULT_TOP
    continuation: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: dict[str, str]) -> CaseQuery:
        """From query parameters (``stage``, ``runtimeStatus``, ``riskClass``, ``requester``, ``q``,
        ``minAgeHours``, ``top``, ``continuationToken``). Raises :class:`BadQuery` naming a bad one."""
        def pick(name: str, allowed: tuple[str, ...]) -> str | None:
            value = (params.get(name) or "").strip()
            if value and value not in allowed:
                raise BadQuery(name, f"{name} must be one of {', '.join(allowed)}")
            return value or None

        top_text = (params.get("top") or "").strip()
        try:
            top = int(top_text) if top_text else DEFAULT_TOP
        except ValueError:
            raise BadQuery("top", "top must be a whole number") from None
        if not 1 <= top <= MAX_TOP:
            raise BadQuery("top", f"top must be between 1 and {MAX_TOP}")
        age_text = (params.get("minAgeHours") or "").strip()
        try:
            min_age = int(float(age_text) * 3600) if age_text else None
        except ValueError:
            raise BadQuery("minAgeHours", "minAgeHours must be a number") from None
        token = (params.get("continuationToken") or "").strip() or None
        if token is not None:
            decode_token(token)
        return cls(
            stage=pick("stage", STAGES),
            runtime_status=pick("runtimeStatus", RUNTIME_STATUSES),
            risk_class=pick("riskClass", RISK_CLASSES),
            requester=(params.get("requester") or "").strip() or None,
            search=(params.get("q") or "").strip() or None,
            min_age_s=min_age,
            top=top,
            continuation=token,
        )

    def matches(self, row: CaseRow, now: datetime) -> bool:
        """True when ``row`` passes every filter."""
        if self.stage and row.stage != self.stage:
            return False
        if self.runtime_status and row.runtime_status != self.runtime_status:
            return False
        if self.risk_class and row.risk_class != self.risk_class:
            return False
        if self.requester and not (row.requester and _same(row.requester, self.requester)):
            return False
        if self.search and not (row.case_id.startswith(self.search)
                                or (row.event_id or "").startswith(self.search)):
            return False
        if self.min_age_s is not None:
            created = parse_time(row.created)
            if created is None or (now - created).total_seconds() < self.min_age_s:
                return False
        return True


def _sort_key(row: CaseRow) -> tuple[str, str]:
    return (row.created, row.case_id)


def encode_token(row: CaseRow) -> str:
    """The continuation token after ``row``: base64url of ``[createdTime, caseId]``."""
    raw = json.dumps([row.created, row.case_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, str]:
    """``(createdTime, caseId)`` of a token. Raises :class:`BadQuery` when it is not one of ours."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise BadQuery("continuationToken", "continuationToken is not a token this API issued") from None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise BadQuery("continuationToken", "continuationToken is not a token this API issued")
    return value[0], value[1]


def page(rows: Iterable[CaseRow], query: CaseQuery, now: datetime) -> tuple[list[CaseRow], str | None]:
    """The page of matching rows, newest first (created time, then case id, descending), and the token
    of the next page (None on the last page)."""
    matching = sorted((r for r in rows if query.matches(r, now)), key=_sort_key, reverse=True)
    if query.continuation:
        after = decode_token(query.continuation)
        matching = [r for r in matching if _sort_key(r) < after]
    chunk = matching[: query.top]
    token = encode_token(chunk[-1]) if len(matching) > query.top else None
    return chunk, token


@dataclass(frozen=True)
class Inbox:
    """The inbox of one person: ``decide`` (theirs to decide now, soonest deadline first), ``others``
    (awaiting approval, readable, not theirs to decide now: decided already or another tier's roles),
    ``mine`` (cases they requested, newest first)."""

    decide: list[CaseRow]
    others: list[CaseRow]
    mine: list[CaseRow]


def inbox(principal: Principal, rows: Iterable[CaseRow], access: Access) -> Inbox:
    """Split the readable rows into the inbox sections (see :class:`Inbox`)."""
    decide: list[CaseRow] = []
    others: list[CaseRow] = []
    mine: list[CaseRow] = []
    for row in access.readable(principal, rows):
        if row.requester and _same(principal.name, row.requester):
            mine.append(row)
        elif access.decides_now(principal, row):
            decide.append(row)
        elif row.pending is not None and row.runtime_status == "Running":
            others.append(row)
    decide.sort(key=lambda r: (r.expires_at or "", r.case_id))
    others.sort(key=lambda r: (r.expires_at or "", r.case_id))
    mine.sort(key=_sort_key, reverse=True)
    return Inbox(decide, others, mine)


def time_left(expires_at: str | None, now: datetime) -> str:
    """``2 h 5 min left`` / ``45 s left`` / ``expired`` for a deadline (``—`` when there is none)."""
    deadline = parse_time(expires_at)
    if deadline is None:
        return "—"
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h left"
    if hours:
        return f"{hours} h {minutes} min left"
    return f"{minutes} min left" if minutes else f"{secs} s left"


def age(created: str, now: datetime) -> str:
    """How long ago ``created`` was, e.g. ``3 h``, ``2 d``, ``40 s``."""
    start = parse_time(created)
    if start is None:
        return "—"
    seconds = max(0, int((now - start).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
