"""Activity ``verify_decision``: did the decision endpoint sign this ``ApprovalDecision`` for this tier?

Orchestrators read no settings, so the approval tier asks this activity, which reads
``CASE_DECISION_SIGNING_KEY`` and checks the seal (``shared.decision_seal.verify``). Its result is recorded in
the history, so replays see the same verdict. It never raises for a bad decision (the verdict says why) and
a missing key refuses every decision (fail closed) instead of failing the case. Input and output are typed
(``shared/contracts/effects.py``: :class:`VerifyDecisionInput`, :class:`Verdict`); the activity runs in
``@case_step`` unobserved (validation and output only, no span or run-schema line, as before): the
approval tier has neither the case's event id nor its trace context to give it, and every run-schema line
names the event and every case span belongs to the case's one trace (tests/e2e run logs, telemetry).
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from activities.step import Step, case_step
from shared import decision_seal, strict_values
from shared.contracts.effects import Verdict, VerifyDecisionInput

logger = logging.getLogger("case_workflow.decisions")

bp = df.Blueprint()


def verdict(payload: VerifyDecisionInput | dict[str, Any], environ: Any = None) -> dict[str, Any]:
    """The check behind the activity (plain function). Input :class:`VerifyDecisionInput` (or its JSON):
    ``decision`` (raw event data: dict or JSON text), ``case_instance_id``, ``approval_instance_id``,
    ``tier``; output the :class:`Verdict` JSON ``{"ok": bool, "reason": str | None}``. ``environ``: where
    the signing key is read (default ``os.environ``)."""
    inp = payload if isinstance(payload, VerifyDecisionInput) else VerifyDecisionInput.from_input(
        payload, "verify_decision"
    )
    return _verdict(inp, environ).to_json()


def _verdict(payload: VerifyDecisionInput, environ: Any = None) -> Verdict:
    raw = payload.decision
    if isinstance(raw, str):
        try:
            raw = strict_values.loads(raw)
        except ValueError:
            return Verdict(ok=False, reason="the decision is not JSON")
    if not isinstance(raw, dict):
        return Verdict(ok=False, reason="the decision is not a JSON object")
    try:
        key = decision_seal.signing_key(environ)
    except decision_seal.SigningKeyMissing as exc:
        logger.error("%s", exc)
        return Verdict(ok=False, reason=str(exc))
    reason = decision_seal.verify(
        key,
        raw,
        case_instance_id=str(payload.case_instance_id),
        approval_instance_id=str(payload.approval_instance_id),
        tier=int(payload.tier or 0),
    )
    return Verdict(ok=reason is None, reason=reason)


@bp.activity_trigger(input_name="payload")
@case_step("verify_decision", VerifyDecisionInput, done="decision_verified", observed=False)
def verify_decision(payload: VerifyDecisionInput, step: Step) -> Verdict:
    """Registered activity ``verify_decision`` (see :func:`verdict`)."""
    return _verdict(payload)
