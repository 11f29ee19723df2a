"""The audit chain as a pure structure: hashing and verification of built records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.audit import GENESIS_HASH, AuditRecord, record_hash, verify

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def chain(n: int, instance_id: str = "case-1") -> list[AuditRecord]:
    """n correctly chained records."""
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq in range(n):
        draft = AuditRecord(
            seq=seq,
            record_id=f"{instance_id}:stage:{seq}",
            instance_id=instance_id,
            event_id="e-1",
            kind="stage",
            at=START + timedelta(minutes=seq),
            data={"stage": f"s{seq}", "n": seq},
            prev_hash=prev,
            hash="",
        )
        record = draft.model_copy(update={"hash": record_hash(draft.model_dump(mode="json"))})
        records.append(record)
        prev = record.hash
    return records


def test_an_untouched_chain_verifies():
    """A chain built by the rules is ok."""
    result = verify(chain(5))

    assert result.ok and result.count == 5 and result.first_bad_seq is None


def test_empty_trail_is_ok():
    """No records: nothing to contradict."""
    assert verify([]).ok


def test_edited_data_is_the_first_bad_record():
    """Changing one record's data breaks its own hash: that record is reported."""
    records = chain(5)
    records[2] = records[2].model_copy(update={"data": {"stage": "approved-by-mallory"}})

    result = verify(records)

    assert not result.ok
    assert result.first_bad_seq == 2
    assert "hash" in (result.reason or "")


def test_rehashed_edit_is_caught_by_the_next_record():
    """Editing a record and recomputing its hash breaks the next record's prev_hash."""
    records = chain(5)
    edited = records[1].model_copy(update={"data": {"stage": "forged"}})
    records[1] = edited.model_copy(update={"hash": record_hash(edited.model_dump(mode="json"))})

    result = verify(records)

    assert result.first_bad_seq == 2
    assert "prev_hash" in (result.reason or "")


def test_deleted_middle_record_is_detected():
    """Removing a record leaves a seq gap at its position."""
    records = chain(5)
    del records[3]

    assert verify(records).first_bad_seq == 3


def test_reordered_records_are_detected():
    """Swapping two records is reported at the first swapped position."""
    records = chain(4)
    records[1], records[2] = records[2], records[1]

    assert verify(records).first_bad_seq == 1


def test_record_of_another_case_is_detected():
    """A record carrying another instance id does not belong in the trail."""
    records = chain(3)
    other = chain(3, "case-2")
    records[2] = other[2]

    assert verify(records).first_bad_seq == 2


def test_hash_covers_every_field():
    """The hash changes with each field (kind, at, event id), not only with data."""
    record = chain(1)[0]
    body = record.model_dump(mode="json")
    base = record_hash(body)

    assert record_hash({**body, "kind": "decision"}) != base
    assert record_hash({**body, "at": "2026-11-25T10:00:01Z"}) != base
    assert record_hash({**body, "event_id": "e-2"}) != base
    assert record_hash({**body, "hash": "ignored"}) == base
