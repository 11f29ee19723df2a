"""What the decision endpoint writes to a case's audit trail, and how the trail says what became of each
decision.

The endpoint records every decision it answers (``shared.audit``, record ids ``{case}:api:{uuid}``):

- ``decision_submitted`` ``{nonce, approver, decision, tier, approval_instance_id}``: written *before* the
  decision is raised to the tier (when storage is down the decision is still handed on, and the tier's
  verdict, audited durably by the case, stands for it);
- ``decision_refused`` ``{approver, decision, tier, reason, by: "endpoint"}``: a decision its pre-check
  refused (self-approval, missing role, stale evidence, already decided). Such decisions are **not**
  raised (they would grow the tier's history); the records are rate-limited per principal and case
  (:class:`RefusalLimiter`), so a flood adds a handful of records, not one per request.

The tier's verdicts are recorded by the case orchestrator (``decision`` / ``decision_refused`` carrying
the decision's ``nonce``). :func:`decision_outcomes` joins both into one list: for each submitted decision,
``counted``, ``refused`` (with the tier's reason), ``pending`` (its tier is still open) or ``not_counted``
(its tier closed before the decision was processed, e.g. raised in the very instant the timer fired).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared import audit
from shared.settings import AppSettings

#: Pre-check refusals recorded per (case, principal) within :data:`REFUSAL_WINDOW_S`.
REFUSALS_RECORDED_PER_WINDOW = 3
REFUSAL_WINDOW_S = 300.0


class RefusalLimiter:
    """Per-process token window: at most ``limit`` records per key per ``window_s`` seconds (monotonic)."""

    def __init__(self, limit: int = REFUSALS_RECORDED_PER_WINDOW, window_s: float = REFUSAL_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def allow(self, key: tuple[str, str]) -> tuple[bool, int]:
        """(record it?, attempts suppressed since the last recorded one for ``key``)."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10000:  # bound memory under a flood of distinct keys
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window_s}
            start, count = self._seen.get(key, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            self._seen[key] = (start, count + 1)
            return count < self.limit, max(0, count - self.limit + 1) if count >= self.limit else 0


def record(settings: AppSettings, case_id: str, event_id: str, kind: str, data: dict[str, Any]) -> None:
    """Append one endpoint record (``kind`` ``decision_submitted`` / ``decision_refused``). Raises the
    storage SDK's errors (the caller answers 503)."""
    audit.append(
        settings,
        case_id,
        event_id,
        kind,
        data,
        at=datetime.now(UTC),
        record_id=f"{case_id}:api:{uuid.uuid4().hex}",
    )


def _nonce_of(data: Mapping[str, Any]) -> str | None:
    raw = data.get("raw") if isinstance(data.get("raw"), dict) else data
    nonce = raw.get("nonce") if isinstance(raw, Mapping) else None
    return nonce if isinstance(nonce, str) else None


def _data(record: Mapping[str, Any]) -> dict[str, Any]:
    data = record.get("data")
    return data if isinstance(data, dict) else {}


def decision_outcomes(
    records: Iterable[Mapping[str, Any]], open_tiers: Iterable[int]
) -> list[dict[str, Any]]:
    """Each submitted decision and what became of it (see the module docstring).

    ``records`` are parsed audit records (``kind``, ``data``, ``at``); ``open_tiers`` the tiers still
    waiting for decisions. Endpoint refusals are listed too (``status`` ``refused``, ``by`` ``endpoint``).
    """
    open_set = set(open_tiers)
    verdicts: dict[str, tuple[str, str | None]] = {}
    for r in records:
        data = _data(r)
        nonce = _nonce_of(data)
        if nonce is None:
            continue
        if r.get("kind") == "decision":
            verdicts[nonce] = ("counted", None)
        elif r.get("kind") == "decision_refused" and data.get("by") != "endpoint":
            verdicts.setdefault(nonce, ("refused", str(data.get("reason"))))  # a replay never undoes a count
    out: list[dict[str, Any]] = []
    submitted = {str(_data(r).get("nonce")) for r in records if r.get("kind") == "decision_submitted"}
    for r in records:
        data = _data(r)
        common = {k: data.get(k) for k in ("approver", "decision", "tier")} | {"at": r.get("at")}
        if r.get("kind") == "decision_submitted":
            nonce = str(data.get("nonce"))
            status, reason = verdicts.get(nonce, (None, None))
            if status is None:
                if data.get("tier") in open_set:
                    status = "pending"
                else:
                    status = "not_counted"
                    reason = "its approval tier closed before the decision was processed"
            out.append({**common, "decisionId": nonce, "status": status, "reason": reason})
        elif r.get("kind") in ("decision", "decision_refused") and data.get("by") != "endpoint":
            nonce = _nonce_of(data)  # a verdict whose submission could not be recorded (storage was down)
            if nonce is not None and nonce not in submitted:
                inner = data.get("raw")
                raw: dict[str, Any] = inner if isinstance(inner, dict) else data
                status, reason = verdicts[nonce]
                entry = {k: raw.get(k) for k in ("approver", "decision", "tier")}
                out.append(
                    {**entry, "at": r.get("at"), "decisionId": nonce, "status": status, "reason": reason}
                )
                submitted.add(nonce)
        elif r.get("kind") == "decision_refused" and data.get("by") == "endpoint":
            out.append(
                {
                    **common,
                    "decisionId": None,
                    "status": "refused",
                    "reason": data.get("reason"),
                    "by": "endpoint",
                    "suppressedBefore": data.get("suppressed", 0),
                }
            )
    return out
