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

#: Record kinds that carry a reviewer's decision (accepted, refused, or handed to the tier).
DECISION_KINDS = ("decision", "decision_refused", "decision_submitted")


def _source(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Where a decision record keeps the decision: a tier's refusal wraps what arrived in ``raw``; the
    endpoint's records (``decision_submitted``, ``decision_refused`` with ``by: endpoint``) hold it flat."""
    raw = data.get("raw")
    return raw if kind == "decision_refused" and isinstance(raw, dict) else data


def _actor(kind: str, data: dict[str, Any]) -> str | None:
    if kind in DECISION_KINDS:
        actor = _source(kind, data).get("approver")
        return actor if isinstance(actor, str) else None
    if kind == "stage" and data.get("stage") == "received":
        return data.get("requester")
    return None


def _decision_fields(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    if kind not in DECISION_KINDS:
        return {"decision": None, "reason": None, "evidenceHash": data.get("evidence_hash")}
    source = _source(kind, data)
    return {
        "decision": source.get("decision"),
        "reason": source.get("reason") if kind != "decision_refused" or source is not data else None,
        "evidenceHash": source.get("evidence_hash"),
        "refusedBecause": data.get("reason") if kind == "decision_refused" else None,
    }


def full_records(raw: list[tuple[str, bytes]], result: VerifyResult) -> list[dict[str, Any]]:
    """Each stored record in full plus ``actor``, ``decision``, ``reason``, ``evidenceHash`` (None where a
    record has none) and ``chain``: ``valid`` | ``broken`` | ``unverified`` (see the module docstring).
    Order: seq order, the order the records were appended, which is the order things happened (the ``at``
    stamps come from the orchestration's clock, or the wall clock for the decision endpoint's records)."""
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
