"""Errors of the case workflow's own logic (policy, approvals, budgets, apply), one small hierarchy.

Ingress, ledger and adapter errors live beside their modules (owned elsewhere); these are raised by
``shared.policy``, ``shared.approvals``, ``shared.stages`` and the activities built on them.
"""

from __future__ import annotations

import re


class CaseWorkflowError(Exception):
    """Base class of case workflow errors."""


class PolicyError(CaseWorkflowError):
    """The policy file cannot be read or is invalid; ``where`` names the file or the offending field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"policy {where}: {message}")
        self.where = where


class StageError(CaseWorkflowError):
    """A stage transition that the stage machine does not allow (``current`` → ``target``)."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"stage transition {current} -> {target} is not allowed")
        self.current = current
        self.target = target


class BudgetExceeded(CaseWorkflowError):
    """A per-case budget ran out; ``budget`` is ``max_activities`` or ``max_runtime_s``."""

    def __init__(self, budget: str, message: str) -> None:
        super().__init__(message)
        self.budget = budget


class ApplyRefused(CaseWorkflowError):
    """``apply_action`` found the request inconsistent with the policy decision or the approval (it never
    acts then). Not retryable in substance: the orchestrator's retries end with the same refusal."""


#: Exception type names whose failure a later retry may fix: storage and network faults, a busy ledger
#: claim, a transient downstream. An activity failure reaches the orchestrator as a plain ``Exception``
#: whose text is ``"Activity function '{name}' failed:  {Type}: {message} ..."`` (the Functions host's and
#: devhost's format, docs/durable-extension-protocol.md#activities), so the type is read from the text.
TRANSIENT_FAILURES: frozenset[str] = frozenset(
    {
        "StorageUnavailable",
        "LedgerBusy",
        "TransientAdapterError",
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
        "ConnectionError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "TimeoutError",
    }
)

_FAILED_TYPE = re.compile(r"Activity function '[^']*' failed:\s+([A-Za-z_][\w.]*):")


def failure_type(exc: BaseException) -> str | None:
    """The exception type name of a failed activity as reported to the orchestrator (last dotted part), or
    None when ``exc`` is not an activity failure in the host's format."""
    match = _FAILED_TYPE.search(str(exc))
    return match.group(1).rsplit(".", 1)[-1] if match else None


def is_transient_failure(exc: BaseException) -> bool:
    """True when ``exc`` is an activity failure of a type in :data:`TRANSIENT_FAILURES`."""
    return failure_type(exc) in TRANSIENT_FAILURES
