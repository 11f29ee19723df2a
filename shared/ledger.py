"""The side-effect ledger: each external action's idempotency key and result, in Azure Table storage.

Every side effect of a case goes through :func:`apply_once` with a key derived from the business event
(``shared.adapters.idempotency_key``: ``{event digest}:{action}``, the digest of source + event id), never
from the instance id, so a re-run of the same event under a new instance id (a restart through the Durable
HTTP API) finds the recorded result instead of acting again. The ledger records the key *before* acting
("started") and the result *before the activity reports success* ("applied"), so a retried, replayed or
crash-repeated apply returns the recorded result instead of acting again.

A failure known to have left the downstream untouched (the exception's ``not_applied`` attribute is True:
nothing was sent, only a read failed, the downstream refused or said it did not process the request; or
``azure.core.exceptions.ServiceRequestError``, "no request was sent") *releases* the claim, so the next
attempt acts at once. Only an unknown outcome (a crash, a timeout after sending) leaves the record
"started"; the busy grace then holds other runs off for ``busy_grace_s`` seconds, measured on the clock
the caller passes (``now``): ``apply_action`` passes the orchestration's time, the same clock its retry
timers use, so a virtual clock that skips minutes does not burn every retry against a wall-clock grace.

The one gap a ledger cannot close alone is a crash after the action reached the downstream but before the
result was recorded. That record stays "started"; the next attempt acts again through the adapter, and the
adapter makes that safe at the downstream: the webhook adapter resends the same ``Idempotency-Key``, the
GitHub adapter reads the target's state first and skips an effect already there (reconcile before retry).

Table layout (JSON only, no pickle): PartitionKey = the key's scope (its part before the first ``:``: the
event digest, or a case id for notification keys), RowKey = sha256 of the key (keys may hold characters
RowKey forbids), properties ``Key``, ``InstanceId`` (the case that claimed it last), ``Status`` (``started``
| ``applied``), ``ResultJson``, ``Attempts``, ``ClaimedAt``, ``AppliedAt`` (ISO UTC).

Storage itself can lose the most recent writes (Azurite killed with -9 keeps its tables in memory until it
flushes): a lost "applied" record makes the next attempt act again, which the downstream's idempotency key
or the adapter's reconcile read absorbs (the second line of defence above).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.data.tables import TableClient, UpdateMode
from pydantic import BaseModel, ConfigDict

from shared.case_errors import DependencyError
from shared.settings import AppSettings
from shared.storage import ensure_table

#: A "started" record younger than this (seconds) is taken as another run still acting: LedgerBusy.
DEFAULT_BUSY_GRACE_S = 3.0
#: Table string properties hold at most 32K UTF-16 characters; results must stay well below.
MAX_RESULT_CHARS = 30_000


class LedgerError(DependencyError):
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
    """The scope of a ledger key, its part before the first ``:`` (the whole key if it has none): the event
    digest for action keys, the case id for notification keys. It is the record's PartitionKey."""
    return key.split(":", 1)[0]


def not_applied(exc: BaseException) -> bool:
    """True when ``exc`` is known to have left the downstream untouched (see the module docstring)."""
    if isinstance(exc, ServiceRequestError):
        return True
    return getattr(exc, "not_applied", False) is True


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


def _claim(
    table: TableClient, key: str, instance_id: str, now: datetime, busy_grace_s: float
) -> tuple[Any | None, int, str | None]:
    """Claim ``key`` for this run. Returns (applied entity, 0, None) when already applied, else
    (None, attempt, etag of the claim).

    Insert when absent (insert fails if another run inserted first); take over a "started" record older than
    the grace period with an ETag-guarded update (fails if another run took it over first).
    """
    entity = {
        "PartitionKey": instance_of(key),
        "RowKey": _row_key(key),
        "Key": key,
        "InstanceId": instance_id,
        "Status": "started",
        "ResultJson": "",
        "Attempts": 1,
        "ClaimedAt": now.isoformat(),
        "AppliedAt": "",
    }
    try:
        created = table.create_entity(entity)
        return None, 1, _etag(created)
    except ResourceExistsError:
        pass
    current = _read(table, key)
    if current is None:  # released in between: let the caller's retry start over
        raise LedgerBusy(key)
    if current["Status"] == "applied":
        return current, 0, None
    claimed_at = _parse_time(current.get("ClaimedAt"))
    if claimed_at is not None and abs((now - claimed_at).total_seconds()) < busy_grace_s:
        raise LedgerBusy(key)
    attempt = int(current.get("Attempts", 1)) + 1
    entity["Attempts"] = attempt
    try:
        updated = table.update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=current.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    except (ResourceModifiedError, ResourceNotFoundError) as exc:
        raise LedgerBusy(key) from exc
    return None, attempt, _etag(updated)


def _etag(metadata: Any) -> str | None:
    return metadata.get("etag") if isinstance(metadata, dict) else None


def _release(table: TableClient, key: str, etag: str | None) -> None:
    """Delete this run's "started" claim (only if nobody changed it since); best effort: a claim that stays
    is taken over after the grace."""
    if etag is None:
        return
    with contextlib.suppress(Exception):  # storage down or claim taken over: the grace covers it
        table.delete_entity(
            partition_key=instance_of(key),
            row_key=_row_key(key),
            etag=etag,
            match_condition=MatchConditions.IfNotModified,
        )


def apply_once(
    settings: AppSettings,
    key: str,
    action: Callable[[], dict[str, Any]],
    *,
    busy_grace_s: float = DEFAULT_BUSY_GRACE_S,
    now: Callable[[], datetime] = _utcnow,
    instance_id: str | None = None,
    before: Callable[[], None] | None = None,
) -> LedgerEntry:
    """Run ``action`` at most once per ``key`` (as far as the ledger can see) and return its recorded result.

    - key applied before: returns the recorded entry (``replayed=True``) without calling ``action``;
    - key unknown: records "started", calls ``action``, records its JSON-serializable dict result as
      "applied", returns it;
    - key "started" by a run that never recorded a result (a crash between acting and recording) and older
      than ``busy_grace_s`` seconds: claims it (ETag-guarded, so one of two concurrent runs wins) and calls
      ``action`` again, which the adapter makes safe at the downstream (see the module docstring).

    ``now`` is the clock of the claim time and the grace (seconds; pass the orchestration's time so the grace
    and the retry timers share one clock); ``instance_id`` is recorded as the claiming case (default: the
    key's scope). ``before`` runs once the key is claimed for this run, right before ``action`` (not for a key
    applied before): what must be done before the effect, e.g. waiting for the audit records that precede
    it (``activities.step.Step.audited``); when it raises, the claim is released and its error propagates
    (the action did not run).

    Raises :class:`LedgerBusy` (retryable) when another run holds a fresh claim, or lost the claim race;
    :class:`LedgerResultTooLarge`; whatever ``action`` raises: when the error is known not to have applied
    (:func:`not_applied`) the claim is released first, otherwise the record stays "started" (unknown
    outcome) and a run after the grace re-runs the action; ``azure.core.exceptions`` errors when storage
    fails.
    """
    table = _table(settings)
    claimed_at = now()
    owner = instance_id or instance_of(key)
    applied, attempt, etag = _claim(table, key, owner, claimed_at, busy_grace_s)
    if applied is not None:
        return _entry(applied, replayed=True)

    if before is not None:
        try:
            before()
        except Exception:
            _release(table, key, etag)  # the action never ran
            raise
    try:
        result = action()
    except Exception as exc:
        if not_applied(exc):
            _release(table, key, etag)
        raise
    result_json = json.dumps(result, sort_keys=True, separators=(",", ":"))
    if len(result_json) > MAX_RESULT_CHARS:
        raise LedgerResultTooLarge(f"result of {key!r} is {len(result_json)} characters as JSON")
    entity = {
        "PartitionKey": instance_of(key),
        "RowKey": _row_key(key),
        "Key": key,
        "InstanceId": owner,
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
    """Every ledger record last claimed by one case (``InstanceId``), ordered by key."""
    table = _table(settings)
    entities = table.query_entities("InstanceId eq @id", parameters={"id": instance_id})
    return sorted((_entry(e) for e in entities), key=lambda entry: entry.key)


def list_for_scope(settings: AppSettings, scope: str) -> list[LedgerEntry]:
    """Every ledger record of one scope (keys ``{scope}:...``: one business event's actions), by key."""
    table = _table(settings)
    entities = table.query_entities("PartitionKey eq @pk", parameters={"pk": scope})
    return sorted((_entry(e) for e in entities), key=lambda entry: entry.key)
