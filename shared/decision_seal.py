"""Decision seals: an approval decision counts only when the app's decision endpoint made it.

The endpoint (``POST /api/cases/{id}/decision``, authenticated principal) signs every decision it hands to
an approval tier: ``seal = "hmac-sha256:" + hex(HMAC-SHA256(key, canonical fields))`` where the fields are
case instance id, approval instance id, tier, approver, sorted roles, decision, reason, evidence hash, ``at``
(ISO 8601 UTC) and a one-time ``nonce`` (RFC 2104 HMAC via Python's ``hmac``; compared with
``hmac.compare_digest``). The key is the app setting ``CASE_DECISION_SIGNING_KEY`` (at least
:data:`MIN_KEY_CHARS` characters; in Azure a Key Vault reference). Orchestrators read no settings, so the
tier verifies each raised decision through the ``verify_decision`` activity (``activities/decisions.py``),
whose result is recorded in the history (deterministic on replay).

What this stops: a decision raised straight through the Durable HTTP API
(``/runtime/webhooks/durabletask/instances/{id}/raiseEvent/ApprovalDecision``) with a made-up approver and
roles has no valid seal; a captured decision replayed to another case, instance or tier fails the binding;
one replayed to the same tier repeats a nonce the tier has seen. All are refused and recorded.

Key handling: missing in Azure (``WEBSITE_INSTANCE_ID`` set) → :class:`SigningKeyMissing`, and the decision
routes answer 503 naming the setting (fail closed); devhost generates one per data dir
(``devhost/local_secrets.py``) when the setting is absent. An unresolved Key Vault reference (App Service
leaves the reference text in the setting when it cannot fetch the secret:
https://learn.microsoft.com/azure/app-service/app-service-key-vault-references) counts as missing
(``shared.secret_settings``): the text is long enough for :data:`MIN_KEY_CHARS` but anyone who knows the
vault URL could seal decisions with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from shared.case_errors import ConfigurationError
from shared.secret_settings import is_unresolved_reference, secret_setting

SETTING = "CASE_DECISION_SIGNING_KEY"
#: Shortest accepted key, in characters (a 256-bit key is 43 base64 characters).
MIN_KEY_CHARS = 32
SEAL_PREFIX = "hmac-sha256:"


class SigningKeyMissing(ConfigurationError, RuntimeError):
    """``CASE_DECISION_SIGNING_KEY`` is unset, an unresolved Key Vault reference or too short; decisions
    cannot be signed or verified."""


def signing_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The signing key (UTF-8 bytes of the setting ``CASE_DECISION_SIGNING_KEY`` in ``environ``, default
    ``os.environ``). Raises :class:`SigningKeyMissing` (message names the setting, never its value) when it
    is unset, an unresolved Key Vault reference, or shorter than :data:`MIN_KEY_CHARS`."""
    env = os.environ if environ is None else environ
    value = secret_setting(env, SETTING) or ""
    if len(value) < MIN_KEY_CHARS:
        where = (
            "set it in the app settings (a Key Vault reference), e.g. 48 random bytes in base64"
            if (env.get("WEBSITE_INSTANCE_ID") or "").strip()
            else "devhost generates one per data dir; set it in local.settings.json when running elsewhere"
        )
        if is_unresolved_reference(env.get(SETTING)):
            problem = "is a Key Vault reference that did not resolve (treated as not set)"
            where = "check the secret and the app identity's access to the vault (docs/deploy.md)"
        elif not value:
            problem = "is not set"
        else:
            problem = f"is shorter than {MIN_KEY_CHARS} characters"
        raise SigningKeyMissing(f"app setting {SETTING} {problem}: decisions are refused; {where}")
    return value.encode("utf-8")


def _message(decision: Mapping[str, Any]) -> bytes:
    fields = [
        decision.get("case_instance_id"),
        decision.get("approval_instance_id"),
        decision.get("tier"),
        decision.get("approver"),
        sorted(str(r) for r in decision.get("roles") or []),
        decision.get("decision"),
        decision.get("reason") or "",
        decision.get("evidence_hash"),
        decision.get("at"),
        decision.get("nonce"),
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal(key: bytes, decision: Mapping[str, Any]) -> str:
    """The seal of ``decision`` (the ``ApprovalDecision`` JSON, ``seal`` itself ignored)."""
    return SEAL_PREFIX + hmac.new(key, _message(decision), hashlib.sha256).hexdigest()


def verify(
    key: bytes, decision: Mapping[str, Any], *, case_instance_id: str, approval_instance_id: str, tier: int
) -> str | None:
    """Why ``decision`` (parsed JSON) is not a decision the endpoint made for this tier, or None when it is.

    Checks the seal first (constant-time), then the binding to ``case_instance_id`` /
    ``approval_instance_id`` / ``tier`` and the presence of a nonce.
    """
    given = decision.get("seal")
    if not isinstance(given, str) or not given.startswith(SEAL_PREFIX):
        return "not signed by the decision endpoint (no seal): raised around the app"
    if not hmac.compare_digest(given.encode(), seal(key, decision).encode()):
        return "the decision's seal does not match its content: forged or altered"
    if not decision.get("nonce"):
        return "the decision carries no nonce"
    bound = (decision.get("case_instance_id"), decision.get("approval_instance_id"), decision.get("tier"))
    if bound != (case_instance_id, approval_instance_id, tier):
        return "the decision was made for another case, approval instance or tier (replayed)"
    return None
