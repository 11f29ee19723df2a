"""The case policy passed by reference: what ``load_policy`` returns and what the judgment steps receive.

Copying the whole policy document (~5 KB of JSON) into the ``load_policy`` result and into every classify,
assess and decide input made it most of a case's durable history (issue 15: ~30 of ~50 KB per case), and
history is replayed on every episode and stored (and billed) per row in Azure. Instead:

- ``load_policy`` returns :func:`load_result`: ``{"version", "digest", "defaults": {"retry", "budgets"}}``
  (the orchestrator needs only the defaults before a decision exists);
- the judgment steps receive ``{"policy_ref": {"version", "digest"}}`` (:attr:`LoadedPolicy.input`) and
  resolve it through ``shared/policy_store.py`` (loaded once per process, cached by digest);
- ``digest`` is ``sha256:`` + the SHA-256 hex of the validated document's canonical JSON (sorted keys, no
  spaces), so a reference names exactly one document, whatever file formatting it came from.

Histories recorded before this change hold the whole document as the ``load_policy`` result;
:func:`from_load_result` accepts both shapes and, for the old one, keeps passing the document itself
(``{"policy": ...}``), so those instances finish exactly as they began. Pure: no I/O (orchestrators use it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shared.contracts.case import Budgets, RetryPolicy
from shared.contracts.steps import PolicyLoaded
from shared.policy import PolicyDocument, policy_from_data

#: Activity-input key of a policy reference (``{"version", "digest"}``).
REF_KEY = "policy_ref"
#: Activity-input key of a whole policy document (inputs scheduled before references existed).
DOCUMENT_KEY = "policy"


def canonical_policy_json(document: PolicyDocument) -> bytes:
    """The document's canonical JSON (sorted keys, ``(",", ":")`` separators, UTF-8): what the digest covers
    and what ``shared/policy_store.py`` stores."""
    return json.dumps(
        document.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def policy_digest(document: PolicyDocument) -> str:
    """``sha256:<64 hex>`` of :func:`canonical_policy_json`."""
    return "sha256:" + hashlib.sha256(canonical_policy_json(document)).hexdigest()


def load_result(document: PolicyDocument, digest: str) -> dict[str, Any]:
    """The ``load_policy`` activity's output: ``{"version", "digest", "defaults": {"retry", "budgets"}}``."""
    return {
        "version": document.version,
        "digest": digest,
        "defaults": {
            "retry": document.defaults.retry.model_dump(mode="json"),
            "budgets": document.defaults.budgets.model_dump(mode="json"),
        },
    }


@dataclass(frozen=True)
class LoadedPolicy:
    """What the orchestrator keeps of a ``load_policy`` result: ``input`` (the key/value to put into each
    judgment step's input: a reference, or the whole document for an old history), ``version``, and the
    default ``budgets`` and ``retry`` that apply until the policy decision."""

    input: dict[str, Any]
    version: str
    budgets: Budgets
    retry: RetryPolicy


def from_load_result(raw: Any) -> LoadedPolicy:
    """Read a ``load_policy`` result of either shape (module docstring): a :class:`PolicyLoaded`, or the
    whole document of an older history. Raises ``PolicyError`` (from ``policy_from_data``) or
    ``pydantic.ValidationError`` when it is neither."""
    if isinstance(raw, dict) and "digest" in raw and "rules" not in raw:
        loaded = PolicyLoaded.model_validate(raw)
        return LoadedPolicy(
            input={REF_KEY: loaded.ref.to_json()},
            version=loaded.version,
            budgets=loaded.defaults.budgets,
            retry=loaded.defaults.retry,
        )
    document = policy_from_data(raw, source="load_policy result")
    return LoadedPolicy(
        input={DOCUMENT_KEY: raw},
        version=document.version,
        budgets=document.defaults.budgets,
        retry=document.defaults.retry,
    )
