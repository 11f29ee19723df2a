"""The app's errors in one hierarchy: :class:`AppError` and one base per concern.

Every error the app raises on purpose derives from :class:`AppError` through the base of its concern::

    AppError
    ├── ConfigurationError      the app is not configured to do this (fix a setting, then retry)
    │     SettingsError (shared/settings.py, also ValueError), StorageConnectionError
    │     (shared/storage_connection.py, also ValueError), SigningKeyMissing (shared/decision_seal.py, also
    │     RuntimeError), AuthenticationNotConfigured (shared/identity.py, also RuntimeError)
    ├── InputError              what arrived cannot be used (a 4xx, the poison queue, a failed step)
    │     NormalizeError and its HTTP-status family (shared/normalize/errors.py), MalformedPrincipal
    │     (shared/identity.py), UnreadableValue, HostileJson (shared/strict_values.py), BadQuery
    │     (triggers/console_views.py), Unauthenticated (triggers/console_common.py), StepInputError (here)
    ├── CaseWorkflowError       the workflow's own logic refuses or stops
    │     PolicyError, StageError, BudgetExceeded, ApplyRefused (here), BudgetExhausted
    │     (shared/judgment_budget.py)
    └── DependencyError         a service the app depends on failed or refused
          StorageUnavailable (shared/storage.py), LedgerError → LedgerBusy, LedgerResultTooLarge
          (shared/ledger.py), AuditError (shared/audit.py), AdapterError and its family
          (shared/adapters/errors.py), CaseSourceError (triggers/case_source.py, also RuntimeError)

The concern bases live here; an error that carries its module's logic (status codes, classification) is
defined beside that module, derives from its base here, and keeps the standard base it had
(``ValueError``, ``RuntimeError``), so every ``except`` clause catches what it caught before and each error
keeps its qualified name (it shows in failure messages, span ``exception.type`` and retry contexts).
``tests/unit/shared/test_error_hierarchy.py`` checks that no public exception class of the app stands
outside. Two private signals never leave their module and stay plain: ``shared.policy._Unreadable`` and
``shared.agent_judgment._Fallback``.

Also here: which activity failures are transient (:data:`TRANSIENT_FAILURES`, :func:`is_transient_failure`),
the orchestrator's view of an activity's exception.
"""

from __future__ import annotations

import re


class AppError(Exception):
    """Base class of every error the app raises on purpose."""


class ConfigurationError(AppError):
    """The app is not configured to do this: a setting is missing or unusable (the message names it)."""


class InputError(AppError):
    """What arrived cannot be used (an event, a header, a query, an activity input); the message says why
    and is safe to show the sender."""


class DependencyError(AppError):
    """A service the app depends on (storage, the ledger, the audit trail, a tool's downstream, the task
    hub's listing) failed or refused."""


class CaseWorkflowError(AppError):
    """Base class of the case workflow's own errors (policy, stages, budgets, apply)."""


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


class StepInputError(InputError, ValueError):
    """An activity's input does not validate against its model (``shared/contracts/steps.py``,
    ``effects.py``): ``activity`` and ``model`` name them, ``problems`` lists ``"field.path: message"``.
    Raised at the activity's entry, before it does anything; the step fails (a bug in the scheduler of the
    input, retried with the business budget, then the instance fails)."""

    def __init__(self, activity: str, model: str, problems: list[str]) -> None:
        super().__init__(f"activity {activity}: input is not a valid {model}: {'; '.join(problems)}")
        self.activity = activity
        self.model = model
        self.problems = list(problems)


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
