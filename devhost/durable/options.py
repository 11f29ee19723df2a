"""host.json ``extensions.durableTask`` options, read once into a frozen object.

Names and defaults follow the extension's ``DurableTaskOptions``
(https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-bindings#host-json):
``hubName`` (default: app setting ``WEBSITE_SITE_NAME``, else ``TestHubName``; ``%Setting%`` expressions
resolved), ``maxConcurrentActivityFunctions`` / ``maxConcurrentOrchestratorFunctions`` (default 10 × CPU
count), ``defaultVersion`` (SDK 1.7 orchestration versioning, stamped on new instances),
``versionMatchStrategy`` (``None`` | ``Strict`` | ``CurrentOrOlder``, default ``CurrentOrOlder``) and
``versionFailureStrategy`` (``Reject`` | ``Fail``, default ``Reject``), enforced per work item
(:mod:`devhost.durable.versioning`), ``httpSettings.defaultAsyncRequestSleepTimeMilliseconds`` (durable
HTTP polling interval without ``Retry-After``, default 30,000 ms).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devhost.durable.versioning import FAILURE_STRATEGIES, MATCH_STRATEGIES, normalize
from devhost.errors import ConfigError

if TYPE_CHECKING:
    from devhost.config import HostConfig

_HUB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")


@dataclass(frozen=True)
class DurableOptions:
    """The task hub's configuration (counts are positive integers)."""

    hub_name: str = "TestHubName"
    max_concurrent_activities: int = 10
    max_concurrent_orchestrators: int = 10
    default_version: str | None = None
    version_match_strategy: str = "CurrentOrOlder"
    version_failure_strategy: str = "Reject"
    http_async_sleep_ms: int = 30_000

    @classmethod
    def from_mapping(
        cls, ext: Mapping[str, Any], settings: Mapping[str, str] | None = None, cpu_count: int | None = None
    ) -> DurableOptions:
        """Build from the ``durableTask`` section (``settings`` supply the default hub name).

        Raises ConfigError for an invalid hub name (3–45 letters/digits, starting with a letter, as Azure
        Storage task hubs require), a non-positive concurrency limit or an unknown versioning strategy.
        """
        settings = settings or {}
        cpus = cpu_count or os.cpu_count() or 1
        hub = str(ext.get("hubName") or settings.get("WEBSITE_SITE_NAME") or "TestHubName")
        if not _HUB_NAME.match(hub):
            raise ConfigError(
                f"host.json extensions.durableTask.hubName {hub!r} is invalid: use 3–45 letters and digits, "
                "starting with a letter"
            )
        return cls(
            hub_name=hub,
            max_concurrent_activities=_positive(ext, "maxConcurrentActivityFunctions", 10 * cpus),
            max_concurrent_orchestrators=_positive(ext, "maxConcurrentOrchestratorFunctions", 10 * cpus),
            default_version=(str(ext["defaultVersion"]) if ext.get("defaultVersion") is not None else None),
            version_match_strategy=_choice(ext, "versionMatchStrategy", MATCH_STRATEGIES, "CurrentOrOlder"),
            version_failure_strategy=_choice(ext, "versionFailureStrategy", FAILURE_STRATEGIES, "Reject"),
            http_async_sleep_ms=_positive(
                dict(ext.get("httpSettings") or {}), "defaultAsyncRequestSleepTimeMilliseconds", 30_000,
            ),
        )

    @classmethod
    def from_config(cls, config: HostConfig) -> DurableOptions:
        """From ``config.extension_options("durableTask")``, ``%Setting%`` in hubName resolved."""
        ext = dict(config.extension_options("durableTask"))
        if isinstance(ext.get("hubName"), str):
            ext["hubName"] = config.resolve(ext["hubName"])
        site = config.site_name
        settings = {"WEBSITE_SITE_NAME": site} if site and _HUB_NAME.match(site) else {}
        return cls.from_mapping(ext, settings)


def _positive(ext: Mapping[str, Any], key: str, default: int) -> int:
    raw = ext.get(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"host.json extensions.durableTask.{key} must be an integer, not {raw!r}") from exc
    if value < 1:
        raise ConfigError(f"host.json extensions.durableTask.{key} must be at least 1 (found {value})")
    return value


def _choice(ext: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    raw = ext.get(key)
    if raw is None or raw == "":
        return default
    value = normalize(raw, allowed)
    if value is None:
        raise ConfigError(
            f"host.json extensions.durableTask.{key} {raw!r} is invalid: use one of {', '.join(allowed)}"
        )
    return value
