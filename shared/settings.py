"""App settings of the case workflow app, read once at the edge into a frozen object.

Triggers and activities call :func:`settings` (spelled ``AppSettings.current()`` where a local variable
is called ``settings``; the Functions host exposes app settings as environment
variables; locally they come from ``local.settings.json``) and pass the object down; nothing deeper reads
``os.environ``. :func:`settings` reads once and caches; its one error path is :class:`SettingsError`
(logged once, then raised to the caller: an HTTP trigger answers 500 "the app is misconfigured", a queue
message or activity fails and is retried like any failure). Tests build one with
``AppSettings.from_env({...})`` or ``AppSettings(...)`` directly.

Secrets (``GITHUB_WEBHOOK_SECRET``, ``GITHUB_TOKEN``, the storage connection string with its account key)
are excluded from ``repr`` so the object can be logged safely, and are read through
``shared.secret_settings.secret_setting``: an unresolved Key Vault reference (the reference text App Service
leaves in the setting when it cannot fetch the secret) counts as not set, with a warning naming the setting.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.case_errors import ConfigurationError
from shared.secret_settings import is_unresolved_reference, secret_setting
from shared.storage_connection import identity_properties

DEFAULT_EVENTS_QUEUE = "case-events"
DEFAULT_NOTIFICATIONS_QUEUE = "case-notifications"
DEFAULT_MAX_EVENT_BYTES = 256 * 1024
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_AUDIT_CONTAINER = "case-audit"
DEFAULT_LEDGER_TABLE = "caseledger"
DEFAULT_MAINTENANCE_SCHEDULE = "0 */5 * * * *"
DEFAULT_HTTP_TIMEOUT_S = 10.0


class SettingsError(ConfigurationError, ValueError):
    """An app setting has a value that cannot be used; ``name`` is the setting's name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"app setting {name}: {message}")
        self.name = name


@dataclass(frozen=True)
class AppSettings:
    """Every app setting the case workflow reads, with its default.

    Attributes (app setting name in brackets):
        storage_connection: Azure Storage connection string [AzureWebJobsStorage];
            ``UseDevelopmentStorage=true`` or an explicit Azurite string locally. Hidden from ``repr`` (it
            carries the account key). Empty when only an identity-based connection is configured, or when
            the setting is an unresolved Key Vault reference (then it does not fall back to
            ``UseDevelopmentStorage=true``: with no identity-based connection storage calls fail with
            ``StorageConnectionError``).
        storage_identity: the identity-based connection properties [AzureWebJobsStorage__accountName,
            __blobServiceUri, __queueServiceUri, __tableServiceUri, __credential, __clientId, ...] as sorted
            ``(property in lower case, value)`` pairs; used only when ``storage_connection`` is empty
            (``shared/storage_connection.py``). Hidden from ``repr`` (may hold a client secret).
        events_queue: queue that starts cases [CASE_EVENTS_QUEUE], default ``case-events``.
        notifications_queue: queue receiving approval/fallback notifications [CASE_NOTIFICATIONS_QUEUE],
            default ``case-notifications``.
        policy_path: policy file path [CASE_POLICY_PATH]; ``None`` (unset or empty) means the shipped file.
        max_event_bytes: largest accepted event body in bytes [CASE_MAX_EVENT_BYTES], default 262144.
        github_webhook_secret: HMAC secret of GitHub webhooks [GITHUB_WEBHOOK_SECRET]; ``None`` when unset
            or an unresolved Key Vault reference, in which case every GitHub delivery is refused (401).
            Never logged.
        github_api_url: base URL of the GitHub REST API [GITHUB_API_URL], default ``https://api.github.com``;
            payload API URLs are rebased onto it (tests point it at a local server).
        github_token: token for the GitHub adapter [GITHUB_TOKEN]; ``None`` when unset or an unresolved Key
            Vault reference. Never logged.
        retention_days: days a finished case's durable history is kept [CASE_RETENTION_DAYS], default 30.
        audit_container: blob container of the audit trail [CASE_AUDIT_CONTAINER], default ``case-audit``.
        ledger_table: table of the side-effect ledger [CASE_LEDGER_TABLE], default ``caseledger``.
        maintenance_schedule: six-field NCRONTAB of the maintenance timer [CASE_MAINTENANCE_SCHEDULE]
            (the timer trigger binds ``%CASE_MAINTENANCE_SCHEDULE%`` itself; kept here for reference).
        http_timeout_s: timeout in seconds of outbound adapter calls [CASE_HTTP_TIMEOUT_SECONDS], default 10.
        tool_sink: tool adapter names routed to the local sink [CASE_TOOL_SINK], comma-separated (e.g.
            ``github-deployment-status``): they record what they would have sent and send nothing. For
            local runs (local.settings.sample.json); empty in Azure.
    """

    storage_connection: str = field(default="UseDevelopmentStorage=true", repr=False)
    storage_identity: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    events_queue: str = DEFAULT_EVENTS_QUEUE
    notifications_queue: str = DEFAULT_NOTIFICATIONS_QUEUE
    policy_path: str | None = None
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    github_webhook_secret: str | None = field(default=None, repr=False)
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_token: str | None = field(default=None, repr=False)
    retention_days: int = DEFAULT_RETENTION_DAYS
    audit_container: str = DEFAULT_AUDIT_CONTAINER
    ledger_table: str = DEFAULT_LEDGER_TABLE
    maintenance_schedule: str = DEFAULT_MAINTENANCE_SCHEDULE
    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S
    tool_sink: frozenset[str] = frozenset()

    @classmethod
    def current(cls) -> AppSettings:
        """The cached settings of this process: :func:`settings` (raises SettingsError)."""
        return settings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        """Build the settings from an environment mapping (default ``os.environ``).

        Empty values count as unset; so do unresolved Key Vault references in the secret settings
        (``shared.secret_settings``, a warning naming the setting). Raises :class:`SettingsError` naming
        the setting when a number is not a number or is out of range.
        """
        env = os.environ if environ is None else environ

        def text(name: str, default: str | None) -> str | None:
            value = env.get(name)
            return default if value is None or value.strip() == "" else value.strip()

        def number(name: str, default: int, minimum: int) -> int:
            raw = text(name, None)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError as exc:
                raise SettingsError(name, f"expected an integer, got {raw!r}") from exc
            if value < minimum:
                raise SettingsError(name, f"must be >= {minimum}, got {value}")
            return value

        timeout_raw = text("CASE_HTTP_TIMEOUT_SECONDS", None)
        try:
            timeout = DEFAULT_HTTP_TIMEOUT_S if timeout_raw is None else float(timeout_raw)
        except ValueError as exc:
            raise SettingsError(
                "CASE_HTTP_TIMEOUT_SECONDS", f"expected seconds, got {timeout_raw!r}"
            ) from exc

        identity = tuple(sorted(identity_properties(env).items()))
        # the host prefers the connection string; with only identity properties there is none
        # an unresolved reference is not a connection string, nor a reason to use the local emulator
        unresolved = is_unresolved_reference(env.get("AzureWebJobsStorage"))
        default_connection = "" if identity or unresolved else "UseDevelopmentStorage=true"
        return cls(
            storage_connection=secret_setting(env, "AzureWebJobsStorage") or default_connection,
            storage_identity=identity,
            events_queue=text("CASE_EVENTS_QUEUE", DEFAULT_EVENTS_QUEUE) or DEFAULT_EVENTS_QUEUE,
            notifications_queue=text("CASE_NOTIFICATIONS_QUEUE", DEFAULT_NOTIFICATIONS_QUEUE)
            or DEFAULT_NOTIFICATIONS_QUEUE,
            policy_path=text("CASE_POLICY_PATH", None),
            max_event_bytes=number("CASE_MAX_EVENT_BYTES", DEFAULT_MAX_EVENT_BYTES, 1),
            github_webhook_secret=secret_setting(env, "GITHUB_WEBHOOK_SECRET"),
            github_api_url=(text("GITHUB_API_URL", DEFAULT_GITHUB_API_URL) or DEFAULT_GITHUB_API_URL).rstrip(
                "/"
            ),
            github_token=secret_setting(env, "GITHUB_TOKEN"),
            retention_days=number("CASE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, 0),
            audit_container=text("CASE_AUDIT_CONTAINER", DEFAULT_AUDIT_CONTAINER) or DEFAULT_AUDIT_CONTAINER,
            ledger_table=text("CASE_LEDGER_TABLE", DEFAULT_LEDGER_TABLE) or DEFAULT_LEDGER_TABLE,
            maintenance_schedule=text("CASE_MAINTENANCE_SCHEDULE", DEFAULT_MAINTENANCE_SCHEDULE)
            or DEFAULT_MAINTENANCE_SCHEDULE,
            http_timeout_s=timeout,
            tool_sink=frozenset(
                name.strip() for name in (text("CASE_TOOL_SINK", None) or "").split(",") if name.strip()
            ),
        )


_CACHE_LOCK = threading.Lock()
_cache: tuple[tuple[tuple[str, str], ...], AppSettings] | None = None
_READ = ("CASE_", "GITHUB_", "AzureWebJobsStorage")  # prefixes of every setting from_env reads


def _fingerprint(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(_READ)))


def settings() -> AppSettings:
    """The app's settings from ``os.environ``: read once, then served from a cache for as long as none of
    the settings it reads changes (several apps run in one test process, each with its own settings).

    The one error path of app configuration: raises :class:`SettingsError` naming the setting (logged
    here once per distinct configuration, never with a secret's value)."""
    global _cache
    key = _fingerprint(os.environ)
    cached = _cache
    if cached is not None and cached[0] == key:
        return cached[1]
    with _CACHE_LOCK:
        try:
            value = AppSettings.from_env(os.environ)
        except SettingsError as exc:
            logging.getLogger(__name__).error("invalid app setting %s: %s", exc.name, exc)
            raise
        _cache = (key, value)
        return value
