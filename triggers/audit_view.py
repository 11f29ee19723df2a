"""The audit trail as people and other systems read it: every record in full, in time order, with what
it says (actor, decision, reason, evidence hash) lifted out and the chain verdict per record.

Pure: input is what ``shared.audit.read_raw`` returns (``[(blob name, bytes)]`` in seq order) and the
``shared.audit.VerifyResult`` of the same trail. Records up to the first bad one are ``valid``; the first
bad one is ``broken`` (with the reason); later ones are ``unverified`` (the chain no longer vouches for them).
A blob that is not JSON is listed as ``{"unreadable": true}`` with its verdict.
"""

from __future__ import annotations

import json
from typing import Any

from shared.audit import VerifyResult

#: Record kinds that carry a reviewer's decision (accepted or refused).
DECISION_KINDS = ("decision", "decision_refused")


def _actor(kind: str, data: dict[str, Any]) -> str | None:
    if kind == "decision":
        return data.get("approver")
    if kind == "decision_refused":
        raw = data.get("raw")
        return raw.get("approver") if isinstance(raw, dict) else None
    if kind == "stage" and data.get("stage") == "received":
        return data.get("requester")
    return None


def _decision_fields(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    source = data.get("raw") if kind == "decision_refused" and isinstance(data.get("raw"), dict) else data
    if kind not in DECISION_KINDS or not isinstance(source, dict):
        return {"decision": None, "reason": None, "evidenceHash": data.get("evidence_hash")}
    return {
        "decision": source.get("decision"),
        "reason": source.get("reason"),
        "evidenceHash": source.get("evidence_hash"),
        "refusedBecause": data.get("reason") if kind == "decision_refused" else None,
    }


def full_records(raw: list[tuple[str, bytes]], result: VerifyResult) -> list[dict[str, Any]]:
    """Each stored record in full plus ``actor``, ``decision``, ``reason``, ``evidenceHash`` (None where a
    record has none) and ``chain``: ``valid`` | ``broken`` | ``unverified`` (see the module docstring).
    Order: seq order, which is time order (the orchestrator appends in the order things happen)."""
    out: list[dict[str, Any]] = []
    for position, (name, body) in enumerate(raw):
        if result.ok or result.first_bad_seq is None or position < result.first_bad_seq:
            verdict = "valid"
        elif position == result.first_bad_seq:
            verdict = "broken"
        else:
            verdict = "unverified"
        try:
            record = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict):
            out.append({"blob": name, "unreadable": True, "chain": verdict})
            continue
        kind = str(record.get("kind") or "")
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        entry = dict(record)
        entry.update({"actor": _actor(kind, data), **_decision_fields(kind, data), "chain": verdict})
        if verdict == "broken":
            entry["chainReason"] = result.reason
        out.append(entry)
    return out
