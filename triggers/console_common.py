"""What the case list API and the console pages share: who is asking, which rules apply, the case rows.

- :func:`viewer` reads the caller from App Service Authentication headers (``shared.identity``);
- :func:`access` gives the read/decide rules (:class:`triggers.console_views.Access`);
- :func:`load_rows` lists the cases with their approval progress (``triggers.case_source``).
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared import policy_store
from shared.access import case_facts, may_decide, may_read_case, reader_roles
from shared.case_errors import InputError, PolicyError
from shared.identity import (
    AuthenticationNotConfigured,
    MalformedPrincipal,
    Principal,
    principal_from_headers,
)
from shared.policy import PolicyDocument
from shared.settings import AppSettings
from triggers.case_source import list_instances
from triggers.console_views import Access, CaseRow, case_rows

logger = logging.getLogger("case.console")


class Unauthenticated(InputError):
    """The request carries no usable identity (the message says why)."""


def viewer(req: func.HttpRequest) -> Principal:
    """The signed-in caller. Raises :class:`Unauthenticated` without principal headers or with malformed
    ones (fails closed: no identity, nothing shown)."""
    try:
        principal = principal_from_headers(dict(req.headers.items()))
    except (MalformedPrincipal, AuthenticationNotConfigured) as exc:
        raise Unauthenticated(str(exc)) from exc
    if principal is None:
        raise Unauthenticated("no X-MS-CLIENT-PRINCIPAL: sign in through App Service Authentication")
    return principal


def _policy() -> PolicyDocument | None:
    """The case policy (``shared.policy_store.current``: cached per process, re-read when the file changes);
    None when unreadable: then only the requester and the pending tier's roles are authorized."""
    try:
        return policy_store.current(AppSettings.from_env())[0]
    except (PolicyError, ValueError) as exc:
        logger.warning("policy unreadable for the console's read rules: %s", exc)
        return None


def access() -> Access:
    """The read/decide rules of ``shared.access`` under the current policy: a case is readable by its
    requester, every role that may decide it (its risk class's tiers, or the review tiers when the class
    needs no approval, and its pending tier) and the policy's reader roles; decidable by a role of the
    pending tier who is not the requester."""
    policy = _policy()
    readers = reader_roles(policy)

    def read(principal: Principal, custom: dict[str, Any]) -> bool:
        return may_read_case(principal, case_facts(custom, policy), readers)

    def decide(principal: Principal, custom: dict[str, Any], tier_roles: list[str]) -> bool:
        return may_decide(principal, case_facts(custom, policy), tier_roles)

    return Access(may_read=read, may_decide=decide)


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
