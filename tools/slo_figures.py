"""The SLO figures of a set of cases, pure: case statuses + audit trails in, figures and breaches out.

A case (:class:`CaseData`) is what the Durable HTTP API or the task hub tells about a ``case_workflow``
instance (runtime status, created and last-updated times, the custom status with ``stage``, ``timeline``,
``pendingApproval``, ``riskClass``) plus its audit records (``kind``, ``at``, ``data``), read by
``tools/report.py``. Definitions (thresholds: :class:`shared.slo.SloTargets`):

- **success rate**: cases ending ``completed``, ``rejected`` or ``expired`` (the outcomes governance
  intends) over closed + stuck cases; ``failed`` (stage, or a Failed/Terminated instance) and stuck cases
  (open, not awaiting a still-valid approval, unchanged for ``stuck_after_s``) count against it;
- **case duration**: first → last timeline entry of a closed case (s), p95;
- **time to decision**: approval requested (``approval_requested``/``approval_escalated`` record) → each
  ``decision`` record's ``at`` (s), p50 and p95; **reject rate**: rejecting decisions over decisions, and
  its shift against the previous window;
- **expiry rate**: ``expired`` over closed cases that awaited approval;
- **side-effect failure rate**: closed cases that reached ``ready_to_apply`` and ended ``failed``, over
  closed cases that reached it;
- **judgment fallback rate**: judged cases whose judgment source is ``rules-fallback`` (custom status
  ``judgment.source`` or a ``judgment`` audit record), over judged (classified) cases;
- **cost per successful case**: summed judgment cost (custom status ``judgment.cost`` or the ``judgment``
  record's ``cost``; 0 for the rules) over successful cases, and its rise against the same window a week
  earlier.

Windows select cases by creation time: ``[now - window_s, now)``. Percentiles: nearest rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.slo import SloTargets

SUCCESS = frozenset({"completed", "rejected", "expired"})
FINAL = frozenset({"completed", "rejected", "expired", "failed"})
FAILED_RUNTIME = frozenset({"Failed", "Terminated", "Canceled"})
OPEN_RUNTIME = frozenset({"Running", "Pending", "Suspended", "ContinuedAsNew"})
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class CaseData:
    """One case: ``created``/``updated`` UTC, ``runtime_status`` (Durable), ``status`` (custom status
    JSON, may be empty), ``audit`` (records as dicts with ``kind``, ``at`` (ISO text or datetime),
    ``data``)."""

    instance_id: str
    runtime_status: str
    created: datetime
    updated: datetime
    status: dict[str, Any] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """One reported figure: ``value`` (None when there is nothing to measure), the ``threshold`` and
    whether it is a minimum (``kind="min"``) or a maximum; ``breach`` when past it; ``detail`` counts."""

    name: str
    value: float | None
    threshold: float | None
    kind: str
    unit: str
    detail: str = ""

    @property
    def breach(self) -> bool:
        if self.value is None or self.threshold is None:
            return False
        return self.value < self.threshold if self.kind == "min" else self.value > self.threshold


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile ``p`` (0-100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def final_stage(case: CaseData) -> str | None:
    """The case's final stage, ``failed`` for a failed/terminated instance without one, else None."""
    stage = case.status.get("stage")
    if stage in FINAL:
        return str(stage)
    if case.runtime_status in FAILED_RUNTIME:
        return "failed"
    return None


def is_stuck(case: CaseData, now: datetime, stuck_after_s: int) -> bool:
    """Open, not awaiting a still-valid approval, and unchanged for ``stuck_after_s`` seconds."""
    if final_stage(case) is not None or case.runtime_status not in OPEN_RUNTIME:
        return False
    pending = case.status.get("pendingApproval") or {}
    expires = pending.get("expires_at") or pending.get("expiresAt")
    if case.status.get("stage") == "awaiting_approval" and expires and _time(expires) > now:
        return False
    return (now - case.updated).total_seconds() > stuck_after_s


def _stages(case: CaseData) -> list[str]:
    return [str(e.get("stage")) for e in case.status.get("timeline") or []]


def _duration_s(case: CaseData) -> float | None:
    timeline = case.status.get("timeline") or []
    if len(timeline) < 2:
        return None
    return (_time(timeline[-1]["at"]) - _time(timeline[0]["at"])).total_seconds()


def _judgment(case: CaseData) -> tuple[str | None, float]:
    judged = case.status.get("judgment") or {}
    source, cost = judged.get("source"), judged.get("cost")
    for record in case.audit:
        if record.get("kind") == "judgment":
            data = record.get("data") or {}
            source = source or data.get("source")
            cost = cost if cost is not None else data.get("cost")
    return (str(source) if source else None), float(cost or 0.0)


def decision_times(case: CaseData) -> list[tuple[str, float]]:
    """``(decision, seconds since the tier's approval request)`` for each decision record of the case."""
    requested: datetime | None = None
    out: list[tuple[str, float]] = []
    for record in sorted(case.audit, key=lambda r: _time(r["at"])):
        kind = record.get("kind")
        if kind in ("approval_requested", "approval_escalated"):
            requested = _time(record["at"])
        elif kind == "decision" and requested is not None:
            data = record.get("data") or {}
            decided = _time(data.get("at") or record["at"])
            out.append((str(data.get("decision")), max(0.0, (decided - requested).total_seconds())))
    return out


@dataclass
class _Window:
    cases: list[CaseData]
    now: datetime
    targets: SloTargets

    def closed(self) -> list[CaseData]:
        return [c for c in self.cases if final_stage(c) is not None]

    def successes(self) -> int:
        return sum(final_stage(c) in SUCCESS for c in self.cases)

    def reject_rate(self) -> tuple[float | None, int, int]:
        decisions = [d for c in self.cases for d, _ in decision_times(c)]
        rejected = sum(d == "reject" for d in decisions)
        return _rate(rejected, len(decisions)), rejected, len(decisions)

    def cost_per_success(self) -> float | None:
        total = sum(_judgment(c)[1] for c in self.cases)
        successes = self.successes()
        return None if successes == 0 else total / successes


def _select(cases: Iterable[CaseData], start: datetime, end: datetime) -> list[CaseData]:
    return [c for c in cases if start <= c.created < end]


def compute(cases: Iterable[CaseData], targets: SloTargets, now: datetime) -> list[Figure]:
    """Every figure of the cases created in the window ending at ``now`` (UTC), with its threshold."""
    every = list(cases)
    width = timedelta(seconds=targets.window_s)
    w = _Window(_select(every, now - width, now), now, targets)
    previous = _Window(_select(every, now - 2 * width, now - width), now - width, targets)
    week_ago = _Window(_select(every, now - WEEK - width, now - WEEK), now - WEEK, targets)
    t = targets

    closed = w.closed()
    stuck = [c for c in w.cases if is_stuck(c, now, t.stuck_after_s)]
    successes = w.successes()
    durations = [d for c in closed if (d := _duration_s(c)) is not None]
    times = [s for c in w.cases for _, s in decision_times(c)]
    reject, rejected, decided = w.reject_rate()
    before, _, _ = previous.reject_rate()
    shift = None if reject is None or before is None else abs(reject - before)
    awaited = [c for c in closed if "awaiting_approval" in _stages(c)]
    expired = sum(final_stage(c) == "expired" for c in awaited)
    applying = [c for c in closed if "ready_to_apply" in _stages(c)]
    apply_failed = sum(final_stage(c) == "failed" for c in applying)
    judged = [c for c in w.cases if "classified" in _stages(c) or _judgment(c)[0]]
    fallbacks = sum(_judgment(c)[0] == "rules-fallback" for c in judged)
    cost, cost_before = w.cost_per_success(), week_ago.cost_per_success()
    rise = None if cost is None or not cost_before else (cost - cost_before) / cost_before
    failed = sum(final_stage(c) == "failed" for c in closed)

    return [
        Figure(
            "success rate",
            _rate(successes, len(closed) + len(stuck)),
            t.success_rate_min,
            "min",
            "ratio",
            f"{successes} succeeded of {len(closed)} closed + {len(stuck)} stuck ({failed} failed)",
        ),
        Figure(
            "case duration p95",
            percentile(durations, 95),
            t.case_duration_p95_max_s,
            "max",
            "s",
            f"{len(durations)} closed cases",
        ),
        Figure(
            "time to decision p50",
            percentile(times, 50),
            t.time_to_decision_p50_max_s,
            "max",
            "s",
            f"{len(times)} decisions",
        ),
        Figure(
            "time to decision p95",
            percentile(times, 95),
            t.time_to_decision_p95_max_s,
            "max",
            "s",
            f"{len(times)} decisions",
        ),
        Figure(
            "approval reject rate",
            reject,
            t.approval_reject_rate_max,
            "max",
            "ratio",
            f"{rejected} of {decided} decisions",
        ),
        Figure(
            "approval reject rate shift",
            shift,
            t.approval_reject_rate_shift_max,
            "max",
            "ratio",
            "against the previous window" + ("" if before is not None else " (no decisions then)"),
        ),
        Figure(
            "expiry rate",
            _rate(expired, len(awaited)),
            t.expiry_rate_max,
            "max",
            "ratio",
            f"{expired} expired of {len(awaited)} that awaited approval",
        ),
        Figure(
            "side-effect failure rate",
            _rate(apply_failed, len(applying)),
            t.side_effect_failure_rate_max,
            "max",
            "ratio",
            f"{apply_failed} failed of {len(applying)} that reached ready_to_apply",
        ),
        Figure(
            "judgment fallback rate",
            _rate(fallbacks, len(judged)),
            t.judgment_fallback_rate_max,
            "max",
            "ratio",
            f"{fallbacks} of {len(judged)} judged cases",
        ),
        Figure("cost per successful case", cost, None, "max", "cost", f"{successes} successful cases"),
        Figure(
            "cost per successful case, week over week",
            rise,
            t.cost_per_success_increase_max,
            "max",
            "ratio",
            "against the same window 7 days earlier" + ("" if cost_before else " (no cost then)"),
        ),
        Figure(
            "stuck cases",
            float(len(stuck)),
            None,
            "max",
            "cases",
            f"open and unchanged > {t.stuck_after_s} s",
        ),
    ]
