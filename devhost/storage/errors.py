"""Errors of devhost's Storage bindings (Azurite, connections, queue/timer/blob bindings).

Every message says what is wrong and how to fix it; secrets (account keys, connection strings) never
appear in a message.
"""

from __future__ import annotations

from devhost.errors import ConfigError, DevhostError


class StorageError(DevhostError):
    """Base class of the storage extension's errors."""


class AzuriteError(StorageError):
    """Azurite could not be found, started or reached; the message names the set-up command."""


class ConnectionSettingError(StorageError, ConfigError):
    """A binding's ``connection`` does not resolve to a usable connection string or identity settings.

    ``name`` is the connection name the binding gave (``Storage`` when it gave none).
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class ScheduleError(StorageError, ConfigError):
    """A timer trigger's schedule is neither a valid NCRONTAB expression nor a TimeSpan."""


class BindingExpressionError(StorageError):
    """A binding expression such as ``{id}`` in a blob path has no value in the trigger data."""


class InvalidResourceNameError(StorageError, ConfigError):
    """A queue or container name breaks the Storage naming rules (3–63 lowercase letters, digits, '-')."""
