"""The audit trail in blob storage (real Azurite): append, idempotent retries, read, tamper detection."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared import audit
from shared.storage import container_client

pytestmark = pytest.mark.azurite
AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def append_stages(settings, instance_id: str, n: int) -> list[audit.AuditRecord]:
    return [
        audit.append(
            settings,
            instance_id,
            "e-1",
            "stage",
            {"stage": f"s{i}"},
            at=AT + timedelta(seconds=i),
            record_id=f"{instance_id}:stage:{i}",
        )
        for i in range(n)
    ]


def test_appends_form_a_chain_that_verifies(storage_settings):
    """Records get seq 0..n-1, each carries the previous hash, and the stored trail verifies."""
    records = append_stages(storage_settings, "case-a", 4)

    assert [r.seq for r in records] == [0, 1, 2, 3]
    assert records[0].prev_hash == audit.GENESIS_HASH
    assert all(records[i].prev_hash == records[i - 1].hash for i in range(1, 4))
    assert audit.read(storage_settings, "case-a") == records
    assert audit.verify_case(storage_settings, "case-a").ok


def test_repeated_record_id_is_not_appended_twice(storage_settings):
    """An activity retry with the same record_id returns the stored record and adds nothing."""
    first = audit.append(
        storage_settings, "case-b", "e-1", "decision", {"by": "alice"}, at=AT, record_id="case-b:decision:0"
    )
    again = audit.append(
        storage_settings, "case-b", "e-1", "decision", {"by": "alice"}, at=AT, record_id="case-b:decision:0"
    )

    assert again == first
    assert len(audit.read(storage_settings, "case-b")) == 1
    audit._tails.clear()  # the retry runs in another process (or after a restart)
    assert audit.append(
        storage_settings, "case-b", "e-1", "decision", {"by": "alice"}, at=AT, record_id="case-b:decision:0"
    ) == first
    assert len(audit.read(storage_settings, "case-b")) == 1


def test_trails_of_cases_are_separate(storage_settings):
    """Each case has its own chain starting at seq 0."""
    append_stages(storage_settings, "case-c1", 2)
    other = append_stages(storage_settings, "case-c2", 1)

    assert other[0].seq == 0
    assert len(audit.read(storage_settings, "case-c1")) == 2


def test_tampered_blob_is_reported_as_the_first_bad_record(storage_settings):
    """Overwriting one stored record's data is detected at that record."""
    append_stages(storage_settings, "case-d", 5)
    container = container_client(storage_settings, storage_settings.audit_container)
    name = "case-d/000002.json"
    document = json.loads(container.download_blob(name).readall())
    document["data"] = {"stage": "completed"}
    container.upload_blob(name, json.dumps(document).encode(), overwrite=True)

    result = audit.verify_case(storage_settings, "case-d")

    assert not result.ok
    assert result.first_bad_seq == 2


def test_unreadable_blob_is_reported_not_raised(storage_settings):
    """A record replaced by garbage is reported by verify_case."""
    append_stages(storage_settings, "case-e", 3)
    container = container_client(storage_settings, storage_settings.audit_container)
    container.upload_blob("case-e/000001.json", b"garbage", overwrite=True)

    result = audit.verify_case(storage_settings, "case-e")

    assert not result.ok and result.first_bad_seq == 1


def test_concurrent_appends_keep_one_chain(storage_settings):
    """Appends racing from several threads still produce one valid chain with every record once."""

    def one(i: int) -> audit.AuditRecord:
        return audit.append(
            storage_settings,
            "case-f",
            "e-1",
            "side_effect",
            {"i": i},
            at=AT,
            record_id=f"case-f:side_effect:{i}",
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(6)))

    records = audit.read(storage_settings, "case-f")
    assert sorted(r.data["i"] for r in records) == list(range(6))
    assert audit.verify(records).ok


def test_unknown_case_has_an_empty_valid_trail(storage_settings):
    """Reading a case that never wrote anything gives [] and ok."""
    assert audit.read(storage_settings, "case-none") == []
    assert audit.verify_case(storage_settings, "case-none").ok


def _count_calls(monkeypatch) -> list[str]:
    """Names of the blob container calls ``shared.audit`` makes from now on."""
    calls: list[str] = []
    real_container = audit._container

    patched: set[int] = set()

    def counting(settings):
        container = real_container(settings)
        if id(container) in patched:  # container clients are cached per process
            return container
        patched.add(id(container))
        for name in ("list_blobs", "download_blob", "upload_blob"):
            real = getattr(container, name)
            monkeypatch.setattr(
                container, name, lambda *a, _n=name, _r=real, **k: (calls.append(_n), _r(*a, **k))[1]
            )
        return container

    monkeypatch.setattr(audit, "_container", counting)
    return calls


def test_a_batch_is_one_upload_and_a_retried_batch_adds_nothing(storage_settings, monkeypatch):
    """append_many: a batch is one blob; a new trail and one this process appended to last take one upload
    (the trail's end is remembered); a batch retried with one more record lists the trail once, appends
    only that one, chained onto the stored ones; a trail another process appended to last costs a refused
    upload and a listing."""
    calls = _count_calls(monkeypatch)
    batch = [audit.NewRecord(f"case-m:{i:03d}:stage", "stage", {"stage": f"s{i}"}, AT) for i in range(3)]
    audit.append(
        storage_settings, "case-m", "e-1", "stage", {"stage": "first"}, at=AT, record_id="case-m:first"
    )
    assert calls == ["upload_blob"]
    calls.clear()
    first = audit.append_many(storage_settings, "case-m", "e-1", batch)
    assert calls == ["upload_blob"]
    assert [r.seq for r in first] == [1, 2, 3] and first[0].prev_hash != audit.GENESIS_HASH

    calls.clear()
    more = audit.NewRecord("case-m:003:stage", "stage", {"stage": "s3"}, AT)
    again = audit.append_many(storage_settings, "case-m", "e-1", [*batch, more])
    assert calls == ["list_blobs", "upload_blob", "download_blob"]
    assert again[:3] == first and again[3].seq == 4 and again[3].prev_hash == first[-1].hash
    trail = audit.read(storage_settings, "case-m")
    assert [r.record_id for r in trail] == ["case-m:first", *(r.record_id for r in [*batch, more])]
    assert audit.verify_case(storage_settings, "case-m").ok

    audit._tails.clear()  # as another process would see it
    calls.clear()
    last = audit.append(storage_settings, "case-m", "e-1", "stage", {}, at=AT, record_id="case-m:004:stage")
    assert calls == ["upload_blob", "list_blobs", "upload_blob"] and last.seq == 5
    assert [name.split("/")[1] for name, _ in audit.read_raw(storage_settings, "case-m")] == [
        "000000.json", "000001.json#0", "000001.json#1", "000001.json#2", "000004.json", "000005.json"
    ]


def test_an_append_elsewhere_since_this_process_last_appended_is_found(storage_settings):
    """The remembered end of a trail is stale when another writer appended since: the upload at the
    remembered seq fails (If-None-Match) and the append goes on after the other writer's records."""
    audit.append(storage_settings, "case-s", "e-1", "stage", {}, at=AT, record_id="case-s:0")
    where = next(k for k in audit._tails._tails if k[1] == "case-s")
    stale = audit._tails.get(where)
    audit.append(storage_settings, "case-s", "e-1", "decision_submitted", {}, at=AT, record_id="case-s:api:1")
    audit._tails.put(where, stale)  # as if the endpoint's record had been written by another process

    third = audit.append(storage_settings, "case-s", "e-1", "stage", {}, at=AT, record_id="case-s:1")

    assert third.seq == 2
    trail = audit.read(storage_settings, "case-s")
    assert [r.record_id for r in trail] == ["case-s:0", "case-s:api:1", "case-s:1"]
    assert audit.verify_case(storage_settings, "case-s").ok


def test_a_tampered_record_inside_a_batch_blob_is_found(storage_settings):
    """A batch blob is one record per line; editing the middle one breaks the chain at its seq."""
    batch = [audit.NewRecord(f"case-t:{i}", "stage", {"stage": f"s{i}"}, AT) for i in range(3)]
    audit.append_many(storage_settings, "case-t", "e-1", batch)
    container = container_client(storage_settings, storage_settings.audit_container)
    lines = container.download_blob("case-t/000000.json").readall().split(b"\n")
    document = json.loads(lines[1])
    document["data"] = {"stage": "completed"}
    lines[1] = json.dumps(document).encode()
    container.upload_blob("case-t/000000.json", b"\n".join(lines), overwrite=True)

    result = audit.verify_case(storage_settings, "case-t")

    assert not result.ok and result.first_bad_seq == 1


def test_a_container_gone_after_it_was_created_is_created_again_on_the_retry(storage_settings):
    """Containers, queues and tables are created once per process; one deleted since (an emulator restarted
    without persistence) makes the step fail as transient StorageUnavailable, and its retry creates it."""
    from shared.storage import StorageUnavailable, storage_faults

    audit.append(storage_settings, "case-g", "e-1", "stage", {}, at=AT, record_id="case-g:0")
    container_client(storage_settings, storage_settings.audit_container).delete_container()
    with pytest.raises(StorageUnavailable, match=r"ContainerNotFound"), storage_faults("audit"):
        audit.append(storage_settings, "case-g", "e-1", "stage", {}, at=AT, record_id="case-g:1")
    with storage_faults("record_audit"):
        audit.append(storage_settings, "case-g", "e-1", "stage", {}, at=AT, record_id="case-g:1")
    assert [r.record_id for r in audit.read(storage_settings, "case-g")] == ["case-g:1"]


def test_a_view_reads_the_trail_once(storage_settings, monkeypatch):
    """read_verified: the verification and the stored records from one listing and one download per blob
    (the case audit endpoint and the console used to read the trail twice)."""
    batch = [audit.NewRecord(f"case-v:{i}", "stage", {"stage": f"s{i}"}, AT) for i in range(3)]
    audit.append_many(storage_settings, "case-v", "e-1", batch)
    audit.append(storage_settings, "case-v", "e-1", "stage", {}, at=AT, record_id="case-v:3")
    calls = _count_calls(monkeypatch)

    result, raw = audit.read_verified(storage_settings, "case-v")

    assert result.ok and result.count == 4 and len(raw) == 4
    assert calls == ["list_blobs", "download_blob", "download_blob"]
    assert audit.read_verified(storage_settings, "case-none") == (audit.VerifyResult(ok=True, count=0), [])


def test_a_record_given_twice_in_one_batch_is_stored_once(storage_settings):
    """append_many: a batch naming one record id twice (a caller's bug: before 2026-12-07 the orchestrator
    re-queued its pending records after every failed attempt of a step that did not flush them) stores that
    record once, the first time it is named, on a new trail and on one with records already."""
    received = audit.NewRecord("case-d:001:stage", "stage", {"stage": "received"}, AT)
    stalled = audit.NewRecord("case-d:002:stage", "stage", {"stage": "stalled"}, AT)
    batch = [received, received, stalled, received, stalled]
    out = audit.append_many(storage_settings, "case-d", "e-1", batch)
    assert [r.record_id for r in out] == ["case-d:001:stage", "case-d:002:stage"]
    later = audit.NewRecord("case-d:003:stage", "stage", {"stage": "classified"}, AT)
    audit._tails.clear()  # as another process would see it: the listing path
    again = audit.append_many(storage_settings, "case-d", "e-1", [received, later, later])
    assert [r.record_id for r in again] == ["case-d:001:stage", "case-d:003:stage"]
    trail = audit.read(storage_settings, "case-d")
    assert [r.record_id for r in trail] == ["case-d:001:stage", "case-d:002:stage", "case-d:003:stage"]
    assert audit.verify_case(storage_settings, "case-d").ok
