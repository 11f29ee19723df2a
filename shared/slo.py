"""Service level objectives of the case workflow: the ``slo:`` section of the policy file.

The thresholds come from the design brief's SLO table (seeds 001: workflow success rate below 98 % in a
rolling 24 h, p95 run latency above the SLA, an abrupt shift of the approval reject rate, cost per successful
run +20 % week over week) plus the figures an operator of this app watches (time to decision, expiry rate,
side-effect failure rate, judgment fallback rate). ``python -m tools.report`` computes the figures from case
statuses and audit trails and marks each breach. Rates are fractions (0.98 = 98 %); durations in seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SloTargets(BaseModel):
    """The ``slo:`` section (every key optional; defaults below).

    Attributes:
        window_s: the rolling window the figures cover, seconds (default 86400 = 24 h).
        success_rate_min: least share of closed-or-stuck cases that end ``completed``, ``rejected`` or
            ``expired`` (default 0.98).
        case_duration_p95_max_s: p95 of received → closed, seconds (default 172800 = two 24 h tiers).
        time_to_decision_p50_max_s / time_to_decision_p95_max_s: approval requested → decided, seconds.
        approval_reject_rate_max: largest share of decisions that reject (default 0.5).
        approval_reject_rate_shift_max: largest change of the reject rate against the previous window
            (absolute, default 0.2): the brief's "abrupt baseline deviation".
        expiry_rate_max: largest share of cases awaiting approval that expire (default 0.1).
        side_effect_failure_rate_max: largest share of apply attempts that fail (default 0.02).
        judgment_fallback_rate_max: largest share of judged cases whose judgment fell back to the rules
            (default 0.1).
        cost_per_success_increase_max: largest rise of cost per successful case against the window a week
            earlier (default 0.2 = +20 %).
        stuck_after_s: an open case not awaiting a still-valid approval and unchanged this long is stuck
            (default 3600).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: int = Field(default=86400, gt=0)
    success_rate_min: float = Field(default=0.98, ge=0, le=1)
    case_duration_p95_max_s: float = Field(default=172800, gt=0)
    time_to_decision_p50_max_s: float = Field(default=14400, gt=0)
    time_to_decision_p95_max_s: float = Field(default=86400, gt=0)
    approval_reject_rate_max: float = Field(default=0.5, ge=0, le=1)
    approval_reject_rate_shift_max: float = Field(default=0.2, ge=0, le=1)
    expiry_rate_max: float = Field(default=0.1, ge=0, le=1)
    side_effect_failure_rate_max: float = Field(default=0.02, ge=0, le=1)
    judgment_fallback_rate_max: float = Field(default=0.1, ge=0, le=1)
    cost_per_success_increase_max: float = Field(default=0.2, ge=0)
    stuck_after_s: int = Field(default=3600, gt=0)
