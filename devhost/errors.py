"""devhost's errors, in one place. Every error a user can meet says what is wrong and how to fix it.

Every exception class devhost defines derives from :class:`DevhostError`; each package adds its own
subclasses beside its code and keeps the standard base it had (``ValueError``), so ``except`` clauses catch
what they caught before::

    DevhostError
    ├── ConfigError            local.settings.json, host.json, an option or a setting is wrong
    │     RouteTemplateError (devhost/http/routing.py, also ValueError); ConnectionSettingError,
    │     ScheduleError, InvalidResourceNameError (devhost/storage/errors.py, also StorageError)
    ├── AppLoadError           function_app.py could not be loaded or indexed
    ├── HostileJsonError       (devhost/limits.py, also ValueError) JSON beyond the host's limits
    ├── FunctionInvocationError (devhost/functions/interfaces.py) a function invocation failed
    ├── DurableError           the task hub (devhost/durable/errors.py): InstanceNotFound, InstanceGone, …
    ├── DurableHttpError       (devhost/durable/http_task.py) a durable HTTP call could not be made
    ├── CliError               (devhost/durable/cli.py) a durable CLI command failed
    └── StorageError           the Storage extension (devhost/storage/errors.py): AzuriteError, …

One class stays outside on purpose: ``devhost.functions.context.RpcException`` implements the SDK's
``azure.functions.RpcException`` interface (what ``retry_context.exception`` is), it is never raised.
``tests/unit/shared/test_error_hierarchy.py`` checks the rule.
"""

from __future__ import annotations


class DevhostError(Exception):
    """Base class of every error devhost raises on purpose."""


class ConfigError(DevhostError):
    """local.settings.json, host.json, a command-line option or an app setting is wrong."""


class AppLoadError(DevhostError):
    """``function_app.py`` could not be loaded or indexed; the message names the cause."""
