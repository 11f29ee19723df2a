"""Activity ``verify_decision``: did the decision endpoint sign this ``ApprovalDecision`` for this tier?

Orchestrators read no settings, so the approval tier asks this activity, which reads
``CASE_DECISION_SIGNING_KEY`` and checks the seal (``shared.decision_seal.verify``). Its result is recorded in
the history, so replays see the same verdict. It never raises for a bad decision (the verdict says why) and
a missing key refuses every decision (fail closed) instead of failing the case.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import decision_seal, strict_values

logger = logging.getLogger("case_workflow.decisions")

bp = df.Blueprint()


def verdict(payload: dict[str, Any], environ: Any = None) -> dict[str, Any]:
    """The check behind the activity (plain function). Input ``{"decision": raw event data (dict or JSON
    text), "case_instance_id", "approval_instance_id", "tier"}``; output
    ``{"ok": bool, "reason": str | None}``."""
    raw = payload.get("decision")
    if isinstance(raw, str):
        try:
            raw = strict_values.loads(raw)
        except ValueError:
            return {"ok": False, "reason": "the decision is not JSON"}
    if not isinstance(raw, dict):
        return {"ok": False, "reason": "the decision is not a JSON object"}
    try:
        key = decision_seal.signing_key(environ)
    except decision_seal.SigningKeyMissing as exc:
        logger.error("%s", exc)
        return {"ok": False, "reason": str(exc)}
    reason = decision_seal.verify(
        key,
        raw,
        case_instance_id=str(payload.get("case_instance_id")),
        approval_instance_id=str(payload.get("approval_instance_id")),
        tier=int(payload.get("tier") or 0),
    )
    return {"ok": reason is None, "reason": reason}


@bp.activity_trigger(input_name="payload")
def verify_decision(payload: dict[str, Any]) -> dict[str, Any]:
    """Registered activity ``verify_decision`` (see :func:`verdict`)."""
    return verdict(payload)
