"""The side-effect ledger on real Azurite: once per key, recorded results, crash recovery, races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared import ledger

pytestmark = pytest.mark.azurite


class Counter:
    """An action that counts its calls and returns a result naming the call."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> dict:
        with self._lock:
            self.calls += 1
            return {"call": self.calls}


def test_first_apply_acts_and_records(storage_settings):
    """An unknown key runs the action once and records its result as applied."""
    action = Counter()

    entry = ledger.apply_once(storage_settings, "case-1:notify", action)

    assert action.calls == 1
    assert entry.status == "applied" and entry.result == {"call": 1} and not entry.replayed
    assert entry.instance_id == "case-1" and entry.attempts == 1
    assert ledger.get(storage_settings, "case-1:notify") == entry.model_copy(update={"replayed": False})


def test_second_apply_returns_the_recorded_result(storage_settings):
    """A retried apply with the same key never calls the action again."""
    action = Counter()
    first = ledger.apply_once(storage_settings, "case-2:release_payment", action)

    again = ledger.apply_once(storage_settings, "case-2:release_payment", action)

    assert action.calls == 1
    assert again.replayed and again.result == first.result


def test_failed_action_leaves_started_and_is_retried_after_the_grace(storage_settings):
    """An action that raised leaves a started record; a later apply (past the grace) acts again."""
    clock = [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)]

    def boom() -> dict:
        raise RuntimeError("downstream exploded")

    with pytest.raises(RuntimeError):
        ledger.apply_once(storage_settings, "case-3:apply", boom, now=lambda: clock[0])
    assert ledger.get(storage_settings, "case-3:apply").status == "started"

    clock[0] += timedelta(seconds=10)
    action = Counter()
    entry = ledger.apply_once(storage_settings, "case-3:apply", action, now=lambda: clock[0])

    assert action.calls == 1
    assert entry.status == "applied" and entry.attempts == 2


def test_fresh_claim_of_another_run_is_busy(storage_settings):
    """Within the grace period a started record belongs to a run still acting: LedgerBusy, no action."""
    clock = [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)]

    def crash() -> dict:
        raise RuntimeError("crash between acting and recording")

    with pytest.raises(RuntimeError):
        ledger.apply_once(storage_settings, "case-4:apply", crash, now=lambda: clock[0])
    clock[0] += timedelta(seconds=1)
    action = Counter()

    with pytest.raises(ledger.LedgerBusy):
        ledger.apply_once(storage_settings, "case-4:apply", action, busy_grace_s=3.0, now=lambda: clock[0])
    assert action.calls == 0


def test_concurrent_first_applies_act_once(storage_settings):
    """Eight threads applying one key: exactly one acts; the others get the result or LedgerBusy."""
    release = threading.Event()
    action = Counter()

    def slow() -> dict:
        release.wait(5)
        return action()

    def attempt(_: int) -> str:
        try:
            entry = ledger.apply_once(storage_settings, "case-5:apply", slow, busy_grace_s=30)
        except ledger.LedgerBusy:
            return "busy"
        return "replayed" if entry.replayed else "acted"

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(attempt, i) for i in range(8)]
        release.set()
        outcomes = [f.result(timeout=30) for f in futures]

    assert action.calls == 1
    assert outcomes.count("acted") == 1
    assert ledger.get(storage_settings, "case-5:apply").result == {"call": 1}


def test_list_for_case_returns_only_that_case(storage_settings):
    """Records are listed per case, sorted by key."""
    for key in ("case-6:b", "case-6:a", "case-7:a"):
        ledger.apply_once(storage_settings, key, lambda: {"ok": True})

    entries = ledger.list_for_case(storage_settings, "case-6")

    assert [e.key for e in entries] == ["case-6:a", "case-6:b"]


def test_keys_with_forbidden_table_characters_work(storage_settings):
    """Keys may contain characters Table RowKeys forbid (/ # ?)."""
    entry = ledger.apply_once(storage_settings, "case-8:post/#1?x", lambda: {"ok": 1})

    assert ledger.get(storage_settings, "case-8:post/#1?x").result == entry.result


def test_too_large_result_is_refused(storage_settings):
    """A result that does not fit a ledger record raises LedgerResultTooLarge."""
    with pytest.raises(ledger.LedgerResultTooLarge):
        ledger.apply_once(storage_settings, "case-9:big", lambda: {"blob": "x" * 40_000})


class NotSent(Exception):
    """A failure known to have left the downstream untouched (like a refused connection)."""

    not_applied = True


def test_failure_known_not_applied_releases_the_claim(storage_settings):
    """An action failing before it could act releases its claim: the very next attempt (same instant, no
    grace) acts and records; exactly one effect."""
    clock = [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)]
    action = Counter()
    failures = [NotSent("connection refused"), NotSent("503")]

    def flaky() -> dict:
        if failures:
            raise failures.pop(0)
        return action()

    for _ in range(2):
        with pytest.raises(NotSent):
            ledger.apply_once(
                storage_settings, "evt-a:order.cancel", flaky, busy_grace_s=3600, now=lambda: clock[0]
            )
        assert ledger.get(storage_settings, "evt-a:order.cancel") is None
    entry = ledger.apply_once(
        storage_settings, "evt-a:order.cancel", flaky, busy_grace_s=3600, now=lambda: clock[0]
    )
    assert action.calls == 1 and entry.status == "applied" and entry.attempts == 1


def test_unknown_outcome_keeps_the_claim_for_the_grace_on_the_callers_clock(storage_settings):
    """An unknown outcome keeps the "started" claim; the grace is measured on the clock the caller passes
    (the orchestration's), so a virtual clock that jumps past the grace lets the retry take over."""
    clock = [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)]

    def timeout() -> dict:
        raise TimeoutError("read timed out after sending")

    with pytest.raises(TimeoutError):
        ledger.apply_once(storage_settings, "evt-b:order.cancel", timeout, now=lambda: clock[0])
    assert ledger.get(storage_settings, "evt-b:order.cancel").status == "started"
    with pytest.raises(ledger.LedgerBusy):
        ledger.apply_once(storage_settings, "evt-b:order.cancel", Counter(), now=lambda: clock[0])
    clock[0] += timedelta(seconds=ledger.DEFAULT_BUSY_GRACE_S)
    entry = ledger.apply_once(storage_settings, "evt-b:order.cancel", Counter(), now=lambda: clock[0])
    assert entry.status == "applied" and entry.attempts == 2


def test_records_name_the_claiming_case_and_list_per_scope(storage_settings):
    """Keys are scoped by the event digest; each record names the case that claimed it."""
    ledger.apply_once(storage_settings, "evt-c:a", lambda: {"ok": 1}, instance_id="case-x")
    ledger.apply_once(storage_settings, "evt-c:b", lambda: {"ok": 2}, instance_id="case-x")
    assert [e.key for e in ledger.list_for_scope(storage_settings, "evt-c")] == ["evt-c:a", "evt-c:b"]
    assert [e.instance_id for e in ledger.list_for_case(storage_settings, "case-x")] == ["case-x", "case-x"]
