"""devhost's errors, in one place. Every error a user can meet says what is wrong and how to fix it.

Extensions add their own subclasses of :class:`DevhostError` beside their code (e.g. the task hub's
store errors in ``devhost/durable/store.py``).
"""

from __future__ import annotations


class DevhostError(Exception):
    """Base class of every error devhost raises on purpose."""


class ConfigError(DevhostError):
    """local.settings.json, host.json, a command-line option or an app setting is wrong."""


class AppLoadError(DevhostError):
    """``function_app.py`` could not be loaded or indexed; the message names the cause."""
