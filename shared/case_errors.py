"""Errors of the case workflow's own logic (policy, approvals, budgets, apply), one small hierarchy.

Ingress, ledger and adapter errors live beside their modules (owned elsewhere); these are raised by
``shared.policy``, ``shared.approvals``, ``shared.stages`` and the activities built on them.
"""

from __future__ import annotations


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
