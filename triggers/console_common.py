"""What the case list API and the console pages share: who is asking, which rules apply, the case rows.

- :func:`viewer` reads the caller from App Service Authentication headers (``shared.identity``);
- :func:`access` gives the read/decide rules (:class:`triggers.console_views.Access`);
- :func:`load_rows` lists the cases with their approval progress (``triggers.case_source``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared.approvals import same_identity
from shared.case_errors import PolicyError
from shared.identity import MalformedPrincipal, Principal, principal_from_headers
from shared.policy import DEFAULT_POLICY_PATH, PolicyDocument, load_policy
from shared.settings import AppSettings
from triggers.case_source import list_instances
from triggers.console_views import Access, CaseRow, case_rows

logger = logging.getLogger("case.console")


class Unauthenticated(Exception):
    """The request carries no usable identity (the message says why)."""


def viewer(req: func.HttpRequest) -> Principal:
    """The signed-in caller. Raises :class:`Unauthenticated` without principal headers or with malformed
    ones (fails closed: no identity, nothing shown)."""
    try:
        principal = principal_from_headers(dict(req.headers.items()))
    except MalformedPrincipal as exc:
        raise Unauthenticated(str(exc)) from exc
    if principal is None:
        raise Unauthenticated("no X-MS-CLIENT-PRINCIPAL: sign in through App Service Authentication")
    return principal


_policy_cache: dict[tuple[str, float], PolicyDocument] = {}


def _policy() -> PolicyDocument | None:
    """The case policy (``CASE_POLICY_PATH``, else the shipped one), cached per file and modification
    time; None when unreadable (then only the requester, the approvers and the pending tier's roles read)."""
    try:
        path = AppSettings.from_env().policy_path
        file = path or str(DEFAULT_POLICY_PATH)
        key = (file, os.stat(file).st_mtime)
        if key not in _policy_cache:
            _policy_cache.clear()
            _policy_cache[key] = load_policy(path)
        return _policy_cache[key]
    except (OSError, PolicyError, ValueError) as exc:
        logger.warning("policy unreadable for the console's read rules: %s", exc)
        return None


def _decider_roles(custom: dict[str, Any], policy: PolicyDocument | None) -> set[str]:
    roles: set[str] = set()
    risk = custom.get("riskClass")
    if policy is not None and risk in policy.risk_classes:
        spec = policy.risk_classes[risk]
        source = spec if spec.approval != "none" else policy.defaults.review
        roles |= {role for tier in source.tiers for role in tier.roles}
    pending = custom.get("pendingApproval")
    listed = pending.get("roles") if isinstance(pending, dict) else None
    if isinstance(listed, list):
        roles |= {r for r in listed if isinstance(r, str)}
    return roles


def _reads(policy: PolicyDocument | None) -> Callable[[Principal, dict[str, Any]], bool]:
    def may_read(principal: Principal, custom: dict[str, Any]) -> bool:
        requester = custom.get("requester")
        if isinstance(requester, str) and same_identity(principal.name, requester):
            return True
        outcome = custom.get("outcome") if isinstance(custom.get("outcome"), dict) else {}
        if any(isinstance(a, str) and same_identity(principal.name, a) for a in outcome.get("approvers", [])):
            return True
        return principal.has_any_role(_decider_roles(custom, policy))

    return may_read


def _may_decide(principal: Principal, custom: dict[str, Any], tier_roles: list[str]) -> bool:
    requester = custom.get("requester")
    if not principal.has_any_role(tier_roles):
        return False
    return not (isinstance(requester, str) and same_identity(principal.name, requester))


def access() -> Access:
    """The read/decide rules (the semantics of ``shared.access``): a case is readable by its requester, its
    approvers and every role that may decide cases of its risk class (the review tiers when the class
    needs no approval) or its pending tier; decidable by a role of the pending tier who is not the
    requester."""
    return Access(may_read=_reads(_policy()), may_decide=_may_decide)


async def load_rows(client: df.DurableOrchestrationClient, *, running_only: bool = False) -> list[CaseRow]:
    """Every case as a :class:`CaseRow` (``running_only``: only Running instances, e.g. for the inbox)."""
    statuses = await list_instances(client, runtime_statuses=["Running"] if running_only else None)
    return case_rows(statuses)


def origin(req: func.HttpRequest) -> str:
    """``scheme://host[:port]`` of the request URL."""
    url = req.url
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    return url if path_start < 0 else url[:path_start]
