"""The audit trail: an append-only, hash-chained list of records per case, one blob per record.

Layout: container ``settings.audit_container`` (``case-audit``), blob ``{instance_id}/{seq:06d}.json`` holding
one :class:`AuditRecord` as JSON. Each record carries the previous record's hash (``prev_hash``; the genesis
value for seq 0 is 64 zeros), the instance id and the event id; its ``hash`` is the sha256 of the canonical
JSON (sorted keys, no spaces, UTF-8) of the record without ``hash``. :func:`verify` recomputes the chain and
reports the first record that does not fit: an edited, reordered, inserted or deleted-in-the-middle record is
found. (Dropping the newest records leaves a shorter valid chain; the durable history and the ledger still
show them.)

Each blob's metadata carries ``record_key`` (a hash of the record id) and ``record_hash`` (the record's
``hash``), so an append lists the trail once (with metadata) and needs no download: the idempotency check
and the previous hash both come from the listing (:func:`append_many` appends a batch after one listing).
The metadata is only a shortcut: :func:`verify` recomputes every hash from the blobs' content, so an edited
record or metadata value still shows up as a broken chain.

Appends are idempotent for activity retries: the caller passes a deterministic ``record_id`` (e.g.
``f"{instance_id}:stage:{n}"``, decided in the orchestrator) and an append whose ``record_id`` already exists
returns the stored record. Timestamps (``at``) come from the caller (the orchestrator's
``current_utc_datetime``), never from a clock here. Blobs are created with If-None-Match so two concurrent
appends cannot take the same seq (the loser re-reads and retries).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContainerClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.case_errors import DependencyError
from shared.settings import AppSettings
from shared.storage import ensure_container

GENESIS_HASH = "0" * 64
_MAX_APPEND_ATTEMPTS = 8


class AuditError(DependencyError):
    """An append could not be completed (e.g. too many concurrent appends to one case)."""


class AuditRecord(BaseModel):
    """One audit record. ``kind`` is e.g. ``stage``, ``decision``, ``side_effect``, ``classification``,
    ``policy``, ``notification``; ``data`` is JSON; ``at`` is UTC; ``hash`` covers every other field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0)
    record_id: str = Field(min_length=1)
    instance_id: str = Field(min_length=1)
    event_id: str
    kind: str = Field(min_length=1)
    at: datetime
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class VerifyResult(BaseModel):
    """Outcome of :func:`verify`: ``ok``; ``count`` records checked; ``first_bad_seq`` (the position in the
    chain of the first record that does not fit, or None) and ``reason`` when not ok."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str | None = None


def canonical_json(document: dict[str, Any]) -> bytes:
    """The canonical form hashed by the chain: sorted keys, ``(",", ":")`` separators, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(fields: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a record's fields (``hash`` excluded if present)."""
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _blob_name(instance_id: str, seq: int) -> str:
    return f"{instance_id}/{seq:06d}.json"


def _record_key(record_id: str) -> str:
    """Blob metadata value for a record id (metadata must be ASCII header text)."""
    return hashlib.sha256(record_id.encode()).hexdigest()[:40]


def _container(settings: AppSettings) -> ContainerClient:
    return ensure_container(settings, settings.audit_container)


def _load(container: ContainerClient, name: str) -> AuditRecord:
    return AuditRecord.model_validate_json(container.download_blob(name).readall())


def append(
    settings: AppSettings,
    instance_id: str,
    event_id: str,
    kind: str,
    data: dict[str, Any],
    *,
    at: datetime,
    record_id: str,
) -> AuditRecord:
    """Append one record to the case's trail and return it (or the stored one if ``record_id`` exists).

    ``at`` is the caller's UTC time; ``data`` must be JSON-serializable. Raises :class:`AuditError` after
    repeated seq conflicts, ``azure.core.exceptions`` errors when storage fails.
    """
    return append_many(settings, instance_id, event_id, [NewRecord(record_id, kind, data, at)])[-1]


@dataclass(frozen=True)
class NewRecord:
    """A record to append: its deterministic ``record_id``, ``kind``, JSON ``data`` and UTC time ``at``."""

    record_id: str
    kind: str
    data: dict[str, Any]
    at: datetime


def append_many(
    settings: AppSettings, instance_id: str, event_id: str, records: Sequence[NewRecord]
) -> list[AuditRecord]:
    """Append ``records`` in order to the case's trail; returns them as stored (a record whose id is already
    in the trail is returned as stored, not appended again).

    One listing of the trail (with metadata) per batch, then one upload per record: each blob carries its
    ``record_key`` and ``record_hash`` in metadata, so neither the idempotency check nor the previous hash
    needs a download (a blob written before ``record_hash`` existed is downloaded once). A seq taken by a
    concurrent append (If-None-Match fails) re-lists and goes on after it. Raises :class:`AuditError` after
    repeated conflicts, ``azure.core.exceptions`` errors when storage fails.
    """
    container = _container(settings)
    done: list[AuditRecord] = []
    todo = list(records)
    for _ in range(_MAX_APPEND_ATTEMPTS):
        blobs = sorted(
            container.list_blobs(name_starts_with=f"{instance_id}/", include=["metadata"]),
            key=lambda b: b.name,
        )
        stored = {(b.metadata or {}).get("record_key"): b.name for b in blobs}
        seq = len(blobs)
        prev_hash = GENESIS_HASH
        if blobs:
            prev_hash = (blobs[-1].metadata or {}).get("record_hash") or _load(container, blobs[-1].name).hash
        while todo:
            new = todo[0]
            key = _record_key(new.record_id)
            if key in stored:  # a retried activity: appended before
                done.append(_load(container, stored[key]))
                todo.pop(0)
                continue
            record = _seal(seq, instance_id, event_id, new, prev_hash)
            try:
                container.upload_blob(
                    _blob_name(instance_id, seq),
                    canonical_json(record.model_dump(mode="json")),
                    overwrite=False,
                    metadata={"record_key": key, "record_hash": record.hash},
                )
            except ResourceExistsError:
                break  # another append took this seq: re-list and go on after it
            done.append(record)
            todo.pop(0)
            seq, prev_hash = seq + 1, record.hash
        else:
            return done
    raise AuditError(f"could not append to the trail of {instance_id} after {_MAX_APPEND_ATTEMPTS} attempts")


def _seal(seq: int, instance_id: str, event_id: str, new: NewRecord, prev_hash: str) -> AuditRecord:
    """The record ``new`` at ``seq`` after ``prev_hash``, with its hash."""
    at = new.at
    draft = AuditRecord(
        seq=seq,
        record_id=new.record_id,
        instance_id=instance_id,
        event_id=event_id,
        kind=new.kind,
        at=at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC),
        data=new.data,
        prev_hash=prev_hash,
        hash="",
    )
    return draft.model_copy(update={"hash": record_hash(draft.model_dump(mode="json"))})


def read_raw(settings: AppSettings, instance_id: str) -> list[tuple[str, bytes]]:
    """The case's record blobs as stored: ``[(blob name, bytes)]`` in blob-name order."""
    container = _container(settings)
    names = sorted(b.name for b in container.list_blobs(name_starts_with=f"{instance_id}/"))
    return [(name, container.download_blob(name).readall()) for name in names]


def read(settings: AppSettings, instance_id: str) -> list[AuditRecord]:
    """The case's trail in seq order ([] for an unknown case). Raises ``pydantic.ValidationError`` when a
    stored record is not a valid record (use :func:`verify_case` to get a report instead)."""
    return [AuditRecord.model_validate_json(body) for _, body in read_raw(settings, instance_id)]


def verify(records: list[AuditRecord]) -> VerifyResult:
    """Check a trail (pure): seq runs 0..n-1, one instance id, each ``prev_hash`` is the previous record's
    ``hash`` (genesis: 64 zeros), and each ``hash`` matches the record's content.
    Reports the first failure."""
    previous_hash = GENESIS_HASH
    for position, record in enumerate(records):
        if record.seq != position:
            return VerifyResult(
                ok=False,
                count=len(records),
                first_bad_seq=position,
                reason=f"expected seq {position}, found {record.seq}",
            )
        if record.instance_id != records[0].instance_id:
            return VerifyResult(
                ok=False,
                count=len(records),
                first_bad_seq=position,
                reason="instance id differs from the trail's",
            )
        if record.prev_hash != previous_hash:
            return VerifyResult(
                ok=False,
                count=len(records),
                first_bad_seq=position,
                reason="prev_hash does not match the previous record's hash",
            )
        if record_hash(record.model_dump(mode="json")) != record.hash:
            return VerifyResult(
                ok=False,
                count=len(records),
                first_bad_seq=position,
                reason="hash does not match the record's content",
            )
        previous_hash = record.hash
    return VerifyResult(ok=True, count=len(records))


def verify_case(settings: AppSettings, instance_id: str) -> VerifyResult:
    """Read and verify one case's trail; a stored blob that is not a valid record is reported as the first
    bad record rather than raised."""
    records: list[AuditRecord] = []
    raw = read_raw(settings, instance_id)
    for position, (name, body) in enumerate(raw):
        try:
            records.append(AuditRecord.model_validate_json(body))
        except ValidationError as exc:
            return VerifyResult(
                ok=False,
                count=len(raw),
                first_bad_seq=position,
                reason=f"{name} is not a valid audit record: {exc.errors()[0]['msg']}",
            )
    return verify(records)
