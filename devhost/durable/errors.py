"""Errors of the durable task hub (devhost/durable), in one place.

Raised by :class:`devhost.durable.hub.TaskHub` (the façade the HTTP API and the durable client binding use)
and by the store (:mod:`devhost.durable.store`). Each method's docstring names the errors it raises.
The HTTP API maps them the way the Durable Functions extension does
(https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api):
InstanceNotFound → 404, InstanceGone → 410, InvalidOperation → 500 (``InvalidOperationException``),
UnknownOrchestrator / bad instance id → 400,
InstanceAlreadyExists → 500 (``OrchestrationAlreadyExistsException``).
"""

from __future__ import annotations

from devhost.errors import DevhostError


class DurableError(DevhostError):
    """Base class of every task hub error."""


class InstanceNotFound(DurableError):
    """No instance with this id exists in the task hub."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"No instance with ID '{instance_id}' found.")
        self.instance_id = instance_id


class InstanceAlreadyExists(DurableError):
    """An instance with this id exists and is not in a terminal state (Running, Pending, Suspended)."""

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(
            f"An orchestration with instance ID '{instance_id}' already exists and is in the {status} state."
        )
        self.instance_id = instance_id
        self.status = status


class InstanceGone(DurableError):
    """The instance is in a terminal state for this operation (Completed, Failed, Terminated, ...)."""

    def __init__(self, instance_id: str, status: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"Instance with ID {instance_id} is gone: either completed or failed (status {status})."
        )
        self.instance_id = instance_id
        self.status = status


class InvalidOperation(DurableError):
    """The operation does not apply to the instance's state (resume of a running instance, suspend of a
    suspended one, rewind of an instance that did not fail)."""


class UnknownOrchestrator(DurableError):
    """The app has no orchestrator function of that name (the extension's wording is kept)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
            "Additional info: check the function name."
        )
        self.name = name


class UnknownEntity(DurableError):
    """The app has no entity function of that name (the extension's ``GetInvalidEntityFunctionMessage``;
    the HTTP API answers 400 as for its ArgumentException)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class StoreError(DurableError):
    """The SQLite task hub failed (I/O error, corrupt file, schema mismatch); the cause is chained."""
