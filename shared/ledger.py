"""The side-effect ledger: each external action's idempotency key and result, in Azure Table storage.

Every side effect of a case goes through :func:`apply_once` with the key ``{instance id}:{action}``. The
ledger records the key *before* acting ("started") and the result *before the activity reports success*
("applied"), so a retried, replayed or crash-repeated apply returns the recorded result instead of acting
again.

The one gap a ledger cannot close alone is a crash after the action reached the downstream but before the
result was recorded. That record stays "started"; the next attempt acts again through the adapter, and the
adapter makes that safe at the downstream: the webhook adapter resends the same ``Idempotency-Key``, the
GitHub adapter reads the target's state first and skips an effect already there (reconcile before retry).

Table layout (JSON only, no pickle): PartitionKey = the instance id (the key's part before the first ``:``),
RowKey = sha256 of the key (keys may hold characters RowKey forbids), properties ``Key``, ``InstanceId``,
``Status`` (``started`` | ``applied``), ``ResultJson``, ``Attempts``, ``ClaimedAt``, ``AppliedAt`` (ISO UTC).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode
from pydantic import BaseModel, ConfigDict

from shared.settings import AppSettings
from shared.storage import ensure_table

#: A "started" record younger than this (seconds) is taken as another run still acting: LedgerBusy.
DEFAULT_BUSY_GRACE_S = 3.0
#: Table string properties hold at most 32K UTF-16 characters; results must stay well below.
MAX_RESULT_CHARS = 30_000


class LedgerError(Exception):
    """Base class of ledger errors."""


class LedgerBusy(LedgerError):
    """Another run claimed ``key`` less than the grace period ago and has not recorded a result yet.

    Retryable: raise it out of the activity so the orchestrator's retry policy tries again later, when the
    other run has recorded its result (returned then) or is taken as crashed (the action runs again).
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"side effect {key!r} is being applied by another run")
        self.key = key


class LedgerResultTooLarge(LedgerError):
    """The action's result does not fit in one ledger record (over :data:`MAX_RESULT_CHARS` as JSON)."""


class LedgerEntry(BaseModel):
    """One ledger record as returned to callers.

    ``replayed`` is True when :func:`apply_once` returned a result recorded earlier without acting;
    ``attempts`` counts how many runs claimed the key (above 1 after a crash between acting and recording).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    instance_id: str
    status: Literal["started", "applied"]
    result: dict[str, Any] | None
    attempts: int
    claimed_at: datetime | None
    applied_at: datetime | None
    replayed: bool = False


def _utcnow() -> datetime:
    return datetime.now(UTC)


def instance_of(key: str) -> str:
    """The instance id part of a ledger key ``{instance id}:{action}`` (the whole key if it has no ``:``)."""
    return key.split(":", 1)[0]


def _row_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _entry(entity: dict[str, Any], *, replayed: bool = False) -> LedgerEntry:
    raw = entity.get("ResultJson")
    return LedgerEntry(
        key=entity["Key"],
        instance_id=entity["InstanceId"],
        status=entity["Status"],
        result=json.loads(raw) if raw else None,
        attempts=int(entity.get("Attempts", 0)),
        claimed_at=_parse_time(entity.get("ClaimedAt")),
        applied_at=_parse_time(entity.get("AppliedAt")),
        replayed=replayed,
    )


def _table(settings: AppSettings) -> TableClient:
    return ensure_table(settings, settings.ledger_table)


def _read(table: TableClient, key: str) -> Any | None:
    try:
        return table.get_entity(partition_key=instance_of(key), row_key=_row_key(key))
    except ResourceNotFoundError:
        return None


def _claim(table: TableClient, key: str, now: datetime, busy_grace_s: float) -> tuple[Any | None, int]:
    """Claim ``key`` for this run. Returns (applied entity, 0) when already applied, else (None, attempt).

    Insert when absent (insert fails if another run inserted first); take over a "started" record older than
    the grace period with an ETag-guarded update (fails if another run took it over first).
    """
    entity = {
        "PartitionKey": instance_of(key),
        "RowKey": _row_key(key),
        "Key": key,
        "InstanceId": instance_of(key),
        "Status": "started",
        "ResultJson": "",
        "Attempts": 1,
        "ClaimedAt": now.isoformat(),
        "AppliedAt": "",
    }
    try:
        table.create_entity(entity)
        return None, 1
    except ResourceExistsError:
        pass
    current = _read(table, key)
    if current is None:  # deleted in between: let the caller's retry start over
        raise LedgerBusy(key)
    if current["Status"] == "applied":
        return current, 0
    claimed_at = _parse_time(current.get("ClaimedAt"))
    if claimed_at is not None and (now - claimed_at).total_seconds() < busy_grace_s:
        raise LedgerBusy(key)
    attempt = int(current.get("Attempts", 1)) + 1
    entity["Attempts"] = attempt
    try:
        table.update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=current.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    except (ResourceModifiedError, ResourceNotFoundError) as exc:
        raise LedgerBusy(key) from exc
    return None, attempt


def apply_once(
    settings: AppSettings,
    key: str,
    action: Callable[[], dict[str, Any]],
    *,
    busy_grace_s: float = DEFAULT_BUSY_GRACE_S,
    now: Callable[[], datetime] = _utcnow,
) -> LedgerEntry:
    """Run ``action`` at most once per ``key`` (as far as the ledger can see) and return its recorded result.

    - key applied before: returns the recorded entry (``replayed=True``) without calling ``action``;
    - key unknown: records "started", calls ``action``, records its JSON-serializable dict result as
      "applied", returns it;
    - key "started" by a run that never recorded a result (a crash between acting and recording) and older
      than ``busy_grace_s`` seconds: claims it (ETag-guarded, so one of two concurrent runs wins) and calls
      ``action`` again, which the adapter makes safe at the downstream (see the module docstring).

    Raises :class:`LedgerBusy` (retryable) when another run holds a fresh claim, or lost the claim race;
    :class:`LedgerResultTooLarge`; whatever ``action`` raises (the record stays "started" and the next
    attempt re-runs the action); ``azure.core.exceptions`` errors when storage fails.
    """
    table = _table(settings)
    claimed_at = now()
    applied, attempt = _claim(table, key, claimed_at, busy_grace_s)
    if applied is not None:
        return _entry(applied, replayed=True)

    result = action()
    result_json = json.dumps(result, sort_keys=True, separators=(",", ":"))
    if len(result_json) > MAX_RESULT_CHARS:
        raise LedgerResultTooLarge(f"result of {key!r} is {len(result_json)} characters as JSON")
    entity = {
        "PartitionKey": instance_of(key),
        "RowKey": _row_key(key),
        "Key": key,
        "InstanceId": instance_of(key),
        "Status": "applied",
        "ResultJson": result_json,
        "Attempts": attempt,
        "ClaimedAt": claimed_at.isoformat(),
        "AppliedAt": now().isoformat(),
    }
    table.upsert_entity(entity, mode=UpdateMode.REPLACE)
    return _entry(entity)


def get(settings: AppSettings, key: str) -> LedgerEntry | None:
    """The ledger record of ``key``, or None when nothing was ever claimed under it."""
    entity = _read(_table(settings), key)
    return None if entity is None else _entry(entity)


def list_for_case(settings: AppSettings, instance_id: str) -> list[LedgerEntry]:
    """Every ledger record of one case (keys ``{instance_id}:...``), ordered by key."""
    table = _table(settings)
    entities = table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id})
    return sorted((_entry(e) for e in entities), key=lambda entry: entry.key)
