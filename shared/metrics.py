"""OpenTelemetry metrics of the case workflow, derived from the run records (``shared.telemetry``).

Every step already writes one run-schema record (:func:`shared.telemetry.log_step`, only when the
orchestrator is not replaying; activities once per execution), so the metrics are recorded from those
records in one place (:func:`record_step`) and from failed step spans (:func:`record_step_failure`):

=============================== ========= ======= ============================================================
instrument                      kind      unit    attributes / recorded when
=============================== ========= ======= ============================================================
``case.started``                counter   {case}  ``channel``; a new case started (``case_started``)
``case.finished``               counter   {case}  ``outcome``, ``risk_class``; the case closed (step =
                                                  ``completed`` | ``rejected`` | ``expired`` | ``failed``)
``case.duration``               histogram s       ``outcome``, ``risk_class``; received → closed
``case.approvals``              counter   {tier}  ``decision`` (approved | rejected | expired); a tier ended
``case.time_to_decision``       histogram s       ``decision``; approval requested → tier ended
``case.side_effects``           counter   {call}  ``tool``, ``result`` (applied | replayed | refused | failed)
``case.budget_stops``           counter   {case}  ``budget`` (max_activities | max_runtime_s | …)
``case.judgment_fallbacks``     counter   {step}  ``step``; a judgment fell back to the rules
=============================== ========= ======= ============================================================

Only the OpenTelemetry metrics *API* is used; the exporter is configured by the composition root
(``shared/telemetry_export.py``). Tests inject a ``MeterProvider`` with :func:`use_meter_provider`.
Semantic conventions for names/units: https://opentelemetry.io/docs/specs/semconv/general/metrics/ .
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics

METER_NAME = "case-workflow"
FINAL_STEPS = frozenset({"completed", "rejected", "expired", "failed"})
_BUDGET = re.compile(r"budget (\w+)=")

_meter_provider: metrics.MeterProvider | None = None


@dataclass(frozen=True)
class _Instruments:
    started: Any
    finished: Any
    duration: Any
    approvals: Any
    time_to_decision: Any
    side_effects: Any
    budget_stops: Any
    judgment_fallbacks: Any


_instruments: dict[int, _Instruments] = {}


def use_meter_provider(provider: metrics.MeterProvider | None) -> metrics.MeterProvider | None:
    """Record into ``provider`` instead of the process-wide one (``None`` restores the global); returns the
    provider used before. For tests: production code leaves the global provider to the composition root."""
    global _meter_provider
    previous, _meter_provider = _meter_provider, provider
    return previous


def _get() -> _Instruments:
    provider = _meter_provider or metrics.get_meter_provider()
    found = _instruments.get(id(provider))
    if found is None:
        meter = metrics.get_meter(METER_NAME, meter_provider=provider)
        found = _Instruments(
            started=meter.create_counter("case.started", unit="{case}", description="cases started"),
            finished=meter.create_counter("case.finished", unit="{case}", description="cases closed"),
            duration=meter.create_histogram("case.duration", unit="s", description="received to closed"),
            approvals=meter.create_counter("case.approvals", unit="{tier}", description="approval tiers"),
            time_to_decision=meter.create_histogram(
                "case.time_to_decision", unit="s", description="approval requested to tier ended"
            ),
            side_effects=meter.create_counter("case.side_effects", unit="{call}", description="apply_action"),
            budget_stops=meter.create_counter("case.budget_stops", unit="{case}", description="budget stops"),
            judgment_fallbacks=meter.create_counter(
                "case.judgment_fallbacks", unit="{step}", description="judgments that fell back to rules"
            ),
        )
        _instruments[id(provider)] = found
    return found


def _text(value: Any, default: str = "unknown") -> str:
    return default if value is None or value == "" else str(value)


def record_step(step: str, fields: Any, extra: Mapping[str, Any]) -> None:
    """Record the metrics a run record implies (table above). ``fields`` is a ``RunFields``; ``extra`` the
    record's extra keys (``channel``, ``case_age_s``, ``outcome``, ``waited_s``, ``reason``, ``replayed``,
    ``judgment_source``). Never raises: a metrics problem must not fail a step."""
    try:
        _record(step, fields, extra)
    except Exception:  # telemetry never breaks the workflow
        return


def _record(step: str, fields: Any, extra: Mapping[str, Any]) -> None:
    m = _get()
    risk = _text(getattr(fields, "risk_class", None))
    if step == "case_started":
        m.started.add(1, {"channel": _text(extra.get("channel"))})
    elif (
        step in FINAL_STEPS
        and getattr(fields, "workflow", "case_workflow") == "case_workflow"
        and ("stage" in extra)
    ):
        m.finished.add(1, {"outcome": step, "risk_class": risk})
        if isinstance(extra.get("case_age_s"), int | float):
            m.duration.record(float(extra["case_age_s"]), {"outcome": step, "risk_class": risk})
        budget = _BUDGET.search(str(extra.get("reason") or ""))
        if step == "failed" and str(extra.get("reason") or "").startswith("stopped:"):
            m.budget_stops.add(1, {"budget": budget.group(1) if budget else "unknown"})
    elif step == "approval_tier_finished":
        decision = _text(extra.get("outcome"))
        m.approvals.add(1, {"decision": decision})
        if isinstance(extra.get("waited_s"), int | float):
            m.time_to_decision.record(float(extra["waited_s"]), {"decision": decision})
    elif step == "applied":
        result = "replayed" if extra.get("replayed") else "applied"
        m.side_effects.add(1, {"tool": _text(getattr(fields, "tool", None)), "result": result})
    elif step == "apply_refused":
        m.side_effects.add(1, {"tool": _text(getattr(fields, "tool", None)), "result": "refused"})
    source = extra.get("judgment_source") or getattr(fields, "judgment_source", None)
    if source == "rules-fallback" and step not in FINAL_STEPS:
        m.judgment_fallbacks.add(1, {"step": step})


def record_step_failure(step: str, fields: Any) -> None:
    """A step's span ended with an exception: for ``apply_action`` a failed side effect (by tool)."""
    try:
        if step == "apply_action":
            _get().side_effects.add(1, {"tool": _text(getattr(fields, "tool", None)), "result": "failed"})
    except Exception:  # telemetry never breaks the workflow
        return
