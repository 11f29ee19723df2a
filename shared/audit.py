"""The audit trail: an append-only, hash-chained list of records per case, one blob per appended batch.

Layout: container ``settings.audit_container`` (``case-audit``), blob ``{instance_id}/{seq:06d}.json`` holding
the records ``seq``, ``seq + 1``, … of one append (an activity's audit flush is one blob), each record the
canonical JSON of one :class:`AuditRecord`, one per line (JSON Lines; canonical JSON has no raw newline, so
a blob of one record is exactly the record's JSON, as trails written one record per blob are). Each record
carries the previous record's hash (``prev_hash``; the genesis value for seq 0 is 64 zeros), the instance
id and the event id; its ``hash`` is the sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of
the record without ``hash``. :func:`verify` recomputes the chain and reports the first record that does not
fit: an edited, reordered, inserted or deleted-in-the-middle record is found. (Dropping the newest records
leaves a shorter valid chain; the durable history and the ledger still show them.)

Each blob's metadata carries ``record_keys`` (hashes of its record ids, comma-separated; ``record_key``
for one record in trails written before batches), ``record_count`` (absent: 1) and ``record_hash`` (the
``hash`` of its last record), so an append that lists the trail needs no download: the idempotency check,
the next seq and the previous hash all come from the listing. The metadata is only a shortcut:
:func:`verify` recomputes every hash from the blobs' content, so an edited record or metadata value still
shows up as a broken chain.

Fewer round trips (issue 15): a process remembers the end of each trail it appended to (next seq, last
hash, record keys; :class:`_Tails`, bounded); a trail it has not appended to is taken to be empty (a new
case). An append uploads at once at that seq, with If-None-Match: when anyone else appended meanwhile
(another process, the decision endpoint), the blob at that seq exists, since every append goes right after
the last blob, so the upload fails and the append lists the trail as above. A batch holding a record id
this process appended before (an activity retry) and any storage error go through the listing too. An
audit flush is then one upload (two more requests, a refused upload and a listing, when the guess was
stale).

Appends are idempotent for activity retries: the caller passes a deterministic ``record_id`` (e.g.
``f"{instance_id}:stage:{n}"``, decided in the orchestrator) and an append whose ``record_id`` already exists
returns the stored record. Timestamps (``at``) come from the caller (the orchestrator's
``current_utc_datetime``), never from a clock here. Blobs are created with If-None-Match so two concurrent
appends cannot take the same seq (the loser re-reads and retries).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
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
#: Records per blob at most (their keys must fit the 8 KiB of blob metadata: 41 bytes each).
MAX_RECORDS_PER_BLOB = 64
#: Trail ends a process remembers (least recently used forgotten first).
_MAX_TAILS = 4096


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


def _lines(body: bytes) -> list[bytes]:
    """The records' JSON texts of one blob (one per line; a blob of one record has no newline)."""
    return body.split(b"\n")


def _load_blob(container: ContainerClient, name: str) -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(line) for line in _lines(container.download_blob(name).readall())]


@dataclass(frozen=True)
class _Tail:
    """The end of a case's trail: the seq the next record gets, the last record's hash, and the keys
    (:func:`_record_key`) of the records this process knows are in it."""

    next_seq: int
    last_hash: str
    keys: frozenset[str]


class _Tails:
    """Trail ends this process appended (module docstring), by (container URL, instance id); thread-safe,
    at most :data:`_MAX_TAILS` (least recently used dropped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tails: OrderedDict[tuple[str, str], _Tail] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _Tail | None:
        with self._lock:
            tail = self._tails.get(key)
            if tail is not None:
                self._tails.move_to_end(key)
            return tail

    def put(self, key: tuple[str, str], tail: _Tail) -> None:
        with self._lock:
            self._tails[key] = tail
            self._tails.move_to_end(key)
            while len(self._tails) > _MAX_TAILS:
                self._tails.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._tails.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tails.clear()


_tails = _Tails()


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
    """Append ``records`` in order to the case's trail as one blob (:data:`MAX_RECORDS_PER_BLOB` records
    a blob at most); returns them as stored (a record whose id is already in the trail is returned as
    stored, not appended again; a record id named twice in ``records`` is taken once, where first named).

    Requests: one upload when this process appended the case's last blob or the trail is new (module
    docstring), else a refused upload, one listing of the trail (with metadata) and one upload; a record
    appended before is downloaded to be returned. A seq taken by a concurrent append (If-None-Match
    fails) re-lists and goes on after it. Raises :class:`AuditError` after repeated conflicts,
    ``azure.core.exceptions`` errors when storage fails.
    """
    if not records:
        return []
    records = list({r.record_id: r for r in reversed(records)}.values())[::-1]  # each id once, first place
    container = _container(settings)
    where = (container.url, instance_id)
    # a trail this process has not appended to is most often a new case's: try seq 0 first
    tail = _tails.get(where) or _Tail(0, GENESIS_HASH, frozenset())
    if not any(_record_key(r.record_id) in tail.keys for r in records):
        try:
            return _write(container, where, tail, instance_id, event_id, records)
        except ResourceExistsError:
            pass  # appended meanwhile by someone else: list the trail and go on after it
        except BaseException:
            _tails.forget(where)  # e.g. the container is gone: the retry starts from a listing
            raise
    _tails.forget(where)
    for _ in range(_MAX_APPEND_ATTEMPTS):
        tail, stored = _scan(container, instance_id)
        new = [r for r in records if _record_key(r.record_id) not in stored]
        try:
            written = _write(container, where, tail, instance_id, event_id, new)
        except ResourceExistsError:
            continue  # another append took this seq: re-list and go on after it
        by_id = {r.record_id: r for r in written}
        loaded: dict[str, list[AuditRecord]] = {}
        out: list[AuditRecord] = []
        for r in records:
            record = by_id.get(r.record_id)
            if record is None:  # a retried activity: appended before
                name = stored[_record_key(r.record_id)]
                if name not in loaded:
                    loaded[name] = _load_blob(container, name)
                record = next(x for x in loaded[name] if x.record_id == r.record_id)
            out.append(record)
        return out
    raise AuditError(f"could not append to the trail of {instance_id} after {_MAX_APPEND_ATTEMPTS} attempts")


def _scan(container: ContainerClient, instance_id: str) -> tuple[_Tail, dict[str, str]]:
    """One listing of the trail (with metadata): its end, and the blob holding each record key."""
    blobs = sorted(
        container.list_blobs(name_starts_with=f"{instance_id}/", include=["metadata"]), key=lambda b: b.name
    )
    stored: dict[str, str] = {}
    count = 0
    for blob in blobs:
        meta = blob.metadata or {}
        for key in (meta.get("record_keys") or meta.get("record_key") or "").split(","):
            if key:
                stored[key] = blob.name
        count += int(meta.get("record_count") or 1)
    last_hash = GENESIS_HASH
    if blobs:
        last = blobs[-1]
        last_hash = (last.metadata or {}).get("record_hash") or _load_blob(container, last.name)[-1].hash
    return _Tail(count, last_hash, frozenset(stored)), stored


def _write(
    container: ContainerClient,
    where: tuple[str, str],
    tail: _Tail,
    instance_id: str,
    event_id: str,
    records: Sequence[NewRecord],
) -> list[AuditRecord]:
    """Seal ``records`` after ``tail`` and upload them (If-None-Match, one blob per
    :data:`MAX_RECORDS_PER_BLOB`), remembering the new end after each blob. Raises ``ResourceExistsError``
    when a blob's seq is taken."""
    written: list[AuditRecord] = []
    for start in range(0, len(records), MAX_RECORDS_PER_BLOB):
        seq, prev_hash = tail.next_seq, tail.last_hash
        sealed: list[AuditRecord] = []
        for new in records[start : start + MAX_RECORDS_PER_BLOB]:
            record = _seal(seq, instance_id, event_id, new, prev_hash)
            sealed.append(record)
            seq, prev_hash = seq + 1, record.hash
        keys = [_record_key(r.record_id) for r in sealed]
        container.upload_blob(
            _blob_name(instance_id, tail.next_seq),
            b"\n".join(canonical_json(r.model_dump(mode="json")) for r in sealed),
            overwrite=False,
            metadata={
                "record_keys": ",".join(keys), "record_count": str(len(sealed)), "record_hash": prev_hash
            },
        )
        written += sealed
        tail = _Tail(seq, prev_hash, tail.keys | frozenset(keys))
        _tails.put(where, tail)
    return written


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
    """The case's records as stored: ``[(name, bytes)]`` in seq order, one entry per record; ``name`` is
    the blob's name for a blob of one record, ``{blob name}#{i}`` for the i-th line of a batch blob."""
    container = _container(settings)
    names = sorted(b.name for b in container.list_blobs(name_starts_with=f"{instance_id}/"))
    out: list[tuple[str, bytes]] = []
    for name in names:
        lines = _lines(container.download_blob(name).readall())
        if len(lines) == 1:
            out.append((name, lines[0]))
        else:
            out += [(f"{name}#{i}", line) for i, line in enumerate(lines)]
    return out


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
    return read_verified(settings, instance_id)[0]


def read_verified(settings: AppSettings, instance_id: str) -> tuple[VerifyResult, list[tuple[str, bytes]]]:
    """One read of the case's trail: its verification (as :func:`verify_case`) and its records as stored
    (as :func:`read_raw`), so a view of the trail lists and downloads it once. Raises storage errors."""
    raw = read_raw(settings, instance_id)
    return _verify_raw(raw), raw


def _verify_raw(raw: list[tuple[str, bytes]]) -> VerifyResult:
    records: list[AuditRecord] = []
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
