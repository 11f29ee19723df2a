"""Who may read a case and who may decide it: the authorization rules every identity route applies.

Stable API (the approvals API in ``triggers/cases.py`` and the approver pages call these; keep the
signatures):

- :func:`case_facts` ``(custom_status, policy) -> CaseFacts``: the facts the rules need, from a case's
  custom status (``shared.contracts.case.CaseStatus`` JSON) and the loaded policy;
- :func:`reader_roles` ``(policy) -> frozenset[str]``: the policy's ``readers`` (e.g. ``auditor``);
- :func:`may_read_case` ``(principal, facts, readers) -> bool``: the requester, any role that may decide
  the case (the tiers of its risk class, or the review tiers when its class needs no approval, plus the
  pending tier's roles), and the reader roles;
- :func:`may_decide` ``(principal, facts, tier_roles) -> bool``: holds a role of the current tier and is
  not the requester (identities compared with ``shared.identity.same_identity``: look-alikes match).

Nothing here does I/O; ``principal`` is a ``shared.identity.Principal`` (None reads nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.identity import Principal, same_identity
from shared.policy import PolicyDocument


@dataclass(frozen=True)
class CaseFacts:
    """What authorization needs to know about one case: its ``requester`` (None if unknown) and the
    ``decider_roles`` (roles that may decide it under the policy and its pending tier)."""

    requester: str | None
    decider_roles: frozenset[str]


def _tier_roles(spec: Any) -> set[str]:
    return {role for tier in getattr(spec, "tiers", []) for role in tier.roles}


def case_facts(custom_status: Any, policy: PolicyDocument | None) -> CaseFacts:
    """:class:`CaseFacts` of a case from its custom status (dict, camelCase keys) and ``policy``.

    Decider roles: the tiers of the case's ``riskClass`` in ``policy`` (the ``defaults.review`` tiers when
    that class needs no approval), plus the roles of ``pendingApproval``. Unknown risk class (the case is
    not classified yet) → only the pending tier's roles (usually none).
    """
    status = custom_status if isinstance(custom_status, dict) else {}
    roles: set[str] = set()
    risk = status.get("riskClass")
    if policy is not None and risk in policy.risk_classes:
        spec = policy.risk_classes[risk]
        roles |= _tier_roles(spec) if spec.approval != "none" else _tier_roles(policy.defaults.review)
    pending = status.get("pendingApproval")
    if isinstance(pending, dict) and isinstance(pending.get("roles"), list):
        roles |= {r for r in pending["roles"] if isinstance(r, str)}
    requester = status.get("requester")
    return CaseFacts(requester if isinstance(requester, str) else None, frozenset(roles))


def reader_roles(policy: PolicyDocument | None) -> frozenset[str]:
    """Roles that may read every case (policy ``readers``); empty without a policy."""
    return frozenset(policy.readers) if policy is not None else frozenset()


def may_read_case(principal: Principal | None, facts: CaseFacts, readers: Iterable[str]) -> bool:
    """True when ``principal`` may see the case: its requester, a decider role, or a reader role."""
    if principal is None:
        return False
    if facts.requester is not None and same_identity(principal.name, facts.requester):
        return True
    return principal.has_any_role(facts.decider_roles) or principal.has_any_role(frozenset(readers))


def may_decide(principal: Principal | None, facts: CaseFacts, tier_roles: Iterable[str]) -> bool:
    """True when ``principal`` holds one of ``tier_roles`` and is not the case's requester."""
    if principal is None or not principal.has_any_role(frozenset(tier_roles)):
        return False
    return facts.requester is None or not same_identity(principal.name, facts.requester)
