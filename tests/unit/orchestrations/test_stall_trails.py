"""Every step of a case retried through a storage outage long enough to stall the case: the trail gains only
the ``stalled`` and resume records; every other record is the one a run without failures writes (same kind
and content but for times and the judgment's charged calls, same order), no record id names two records and
no step's input carries a record twice. Appends are idempotent per record id, so an id
given to two records would lose one: ``make drill`` found that in orchestration 8.0's first form, where the
stall records of ``decide_policy``'s retries took the id offered for ``ready_to_apply``."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrations import names
from shared.storage import StorageUnavailable
from tests.unit.orchestrations.orch_fixtures import Approvals, Effects, case_sim, decision, event

STEPS = [names.CLASSIFY_CASE, names.ASSESS_CASE, names.DECIDE_POLICY, names.APPLY_ACTION, names.NOTIFY]
#: More failures than the business attempts (3): the case stalls, then resumes.
FAILURES = 4
#: The steps whose retries run on the policy's retry (after ``decide_policy``) and so stall the case.
STALLING = {names.DECIDE_POLICY, names.APPLY_ACTION}


class AppendsThenFails(Effects):
    """Effects whose ``step`` fails its first ``times`` attempts with a storage error after appending what it
    appends (its riding records; ``decide_policy`` also its own): the append went through, the completion
    did not."""

    def __init__(self, step: str, times: int) -> None:
        super().__init__()
        self.step, self.left = step, times

    def table(self) -> dict[str, Any]:
        table = super().table()
        real = table[self.step]

        def flaky(payload: dict[str, Any]) -> Any:
            if not self.left:
                return real(payload)
            self.left -= 1
            if self.step == names.DECIDE_POLICY:
                real(payload)  # appends the riding records, classified and (8.0) ready_to_apply
            else:
                self._audit_from(payload)
            raise StorageUnavailable(self.step, ConnectionResetError("reset after the append"))

        table[self.step] = flaky
        return table


#: Keys that differ with the retries by design: times move with the stall's episodes, and ``judgment``
#: (the ``classified`` record's) counts the model calls the failed attempts were charged.
_MOVING = {"at", "expires_at", "requested_at", "remind_at", "decided_at", "judgment"}


def _content(record: dict[str, Any]) -> tuple[str, Any]:
    """A record without its id and what moves with the retries (:data:`_MOVING`)."""

    def untimed(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: untimed(v) for k, v in value.items() if k not in _MOVING}
        if isinstance(value, list):
            return [untimed(v) for v in value]
        return value

    return record["kind"], untimed(record["data"])


def _is_stall(record: dict[str, Any]) -> bool:
    data = record["data"]
    return record["kind"] == "stage" and (data.get("stage") == "stalled" or "resumed_after" in data)


def _run(effects: Effects, event_type: str) -> Any:
    approvals = Approvals(lambda tier, gate: [[decision("bob", ["approver"], gate, nonce="bob")]])
    needs_approval = event_type == "account.change"
    return case_sim(event(event_type), effects, approvals if needs_approval else None).run()


@pytest.mark.parametrize("event_type", ["order.cancel", "account.change"])
@pytest.mark.parametrize("step", STEPS)
def test_a_step_retried_through_a_stall_adds_only_stall_records_to_the_trail(step, event_type):
    clean = Effects()
    assert _run(clean, event_type).output["status"] == "completed"
    effects = AppendsThenFails(step, FAILURES)
    sim = _run(effects, event_type)
    assert "error" not in sim.state and sim.output["status"] == "completed"
    assert effects.left == 0  # the step did fail that often
    ids = [r["record_id"] for r in effects.audited]
    assert len(ids) == len(set(ids)), ids
    for name, payload in sim.calls:  # no step carries a record twice (a failed attempt re-queued them)
        riding = [r["record_id"] for r in payload.get("audit") or []]
        assert len(riding) == len(set(riding)), (name, riding)
    if step in STALLING:  # the others retry on the code's default policy or as a closing step: no stall
        assert any(_is_stall(r) for r in effects.audited)
    kept = [_content(r) for r in effects.audited if not _is_stall(r)]
    assert kept == [_content(r) for r in clean.audited]
    assert len(effects.applied) == len(clean.applied) == 1
