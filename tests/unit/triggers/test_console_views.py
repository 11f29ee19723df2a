"""Pure logic of the case list, inbox and audit view (triggers/console_views.py, triggers/audit_view.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.audit import VerifyResult
from shared.identity import Principal
from triggers.audit_view import full_records
from triggers.console_common import access
from triggers.console_views import BadQuery, CaseQuery, age, case_rows, inbox, page, time_left

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _status(n: int, requester: str = "alice", stage: str = "awaiting_approval", risk: str = "privileged",
            roles: tuple[str, ...] = ("approver",), approved: tuple[str, ...] = (),
            required: int = 1) -> list[dict]:
    case_id = f"case-{n:032x}"
    created = (NOW - timedelta(hours=n)).isoformat().replace("+00:00", "Z")
    pending = {"tier": 0, "tier_count": 2, "roles": list(roles), "required": required,
               "expires_at": (NOW + timedelta(hours=10 - n)).isoformat(), "evidence_hash": "sha256:x"}
    custom = {"caseId": case_id, "eventId": f"e-{n}", "eventType": "account.change", "requester": requester,
              "stage": stage, "riskClass": risk, "timeline": [],
              "pendingApproval": pending if stage == "awaiting_approval" else None,
              "approvalInstanceId": f"{case_id}-approval-0" if stage == "awaiting_approval" else None}
    out = [{"name": "case_workflow", "instanceId": case_id, "runtimeStatus": "Running",
            "createdTime": created, "lastUpdatedTime": created, "customStatus": custom}]
    if stage == "awaiting_approval":
        out.append({"name": "approval_tier", "instanceId": f"{case_id}-approval-0",
                    "runtimeStatus": "Running",
                    "customStatus": {"approvedBy": list(approved), "required": required}})
    return out


def _rows(*groups: list[dict]):
    return case_rows([s for g in groups for s in g])


def test_rows_join_tier_progress_and_render_json() -> None:
    [row] = _rows(_status(1, approved=("carol",), required=2))
    assert row.approved_by == ["carol"] and row.required == 2
    item = row.to_json()
    assert item["waitingOn"]["approvedBy"] == ["carol"] and item["stage"] == "awaiting_approval"


def test_inbox_sections() -> None:
    rows = _rows(_status(1), _status(2, approved=("bob",), required=2), _status(3, requester="bob"),
                 _status(4, roles=("admin",)), _status(5, stage="completed"))
    bob = Principal("bob", frozenset({"approver"}))
    box = inbox(bob, rows, access())
    assert [r.case_id for r in box.decide] == [rows[0].case_id]
    # the admin tier's case is readable (approvers may decide privileged cases) but not bob's to decide now
    assert [r.case_id for r in box.others] == [rows[3].case_id, rows[1].case_id]
    assert [r.case_id for r in box.mine] == [rows[2].case_id]
    nobody = Principal("nora", frozenset())
    empty = inbox(nobody, rows, access())
    assert (empty.decide, empty.others, empty.mine) == ([], [], [])


def test_query_filters_and_keyset_paging() -> None:
    rows = _rows(*[_status(n, risk="irreversible" if n % 2 else "privileged") for n in range(1, 8)])
    query = CaseQuery.from_params({"riskClass": "irreversible", "top": "2"})
    first, token = page(rows, query, NOW)
    assert [r.risk_class for r in first] == ["irreversible"] * 2
    assert first[0].created > first[1].created and token
    rest, end = page(rows, CaseQuery.from_params({"riskClass": "irreversible", "top": "2",
                                                  "continuationToken": token}), NOW)
    assert len({r.case_id for r in first + rest}) == 4 and end is None
    old, _ = page(rows, CaseQuery.from_params({"minAgeHours": "5"}), NOW)
    assert {r.case_id for r in old} == {rows[n].case_id for n in (4, 5, 6)}
    found, _ = page(rows, CaseQuery.from_params({"q": "e-3"}), NOW)
    assert [r.event_id for r in found] == ["e-3"]


@pytest.mark.parametrize("params,field", [({"stage": "x"}, "stage"), ({"top": "0"}, "top"),
                                          ({"top": "abc"}, "top"), ({"continuationToken": "!!"},
                                                                     "continuationToken"),
                                          ({"minAgeHours": "soon"}, "minAgeHours")])
def test_bad_query_names_the_field(params: dict, field: str) -> None:
    with pytest.raises(BadQuery) as info:
        CaseQuery.from_params(params)
    assert info.value.field == field


def test_time_texts() -> None:
    assert time_left((NOW + timedelta(hours=2, minutes=5)).isoformat(), NOW) == "2 h 5 min left"
    assert time_left((NOW - timedelta(seconds=1)).isoformat(), NOW) == "expired"
    assert time_left(None, NOW) == "—"
    assert age((NOW - timedelta(days=3)).isoformat(), NOW) == "3 d"


def test_full_records_lift_decisions_and_mark_the_chain() -> None:
    decision = {"seq": 1, "kind": "decision", "at": "2026-12-07T10:00:00Z", "hash": "h1",
                "data": {"approver": "bob", "decision": "approve", "reason": "ok",
                         "evidence_hash": "sha256:e"}}
    refused = {"seq": 2, "kind": "decision_refused", "at": "2026-12-07T10:01:00Z", "hash": "h2",
               "data": {"raw": {"approver": "alice", "decision": "approve", "reason": "mine"},
                        "reason": "self-approval"}}
    raw = [("c/000000.json", json.dumps({"seq": 0, "kind": "stage", "data": {"stage": "received",
                                                                            "requester": "alice"}}).encode()),
           ("c/000001.json", json.dumps(decision).encode()), ("c/000002.json", json.dumps(refused).encode()),
           ("c/000003.json", b"not json")]
    out = full_records(raw, VerifyResult(ok=False, count=4, first_bad_seq=2, reason="hash does not match"))
    assert [r["chain"] for r in out] == ["valid", "valid", "broken", "unverified"]
    assert out[0]["actor"] == "alice"
    assert (out[1]["actor"], out[1]["decision"], out[1]["reason"], out[1]["evidenceHash"]) == (
        "bob", "approve", "ok", "sha256:e")
    assert out[2]["actor"] == "alice" and out[2]["refusedBecause"] == "self-approval"
    assert out[2]["chainReason"] == "hash does not match" and out[3]["unreadable"] is True
