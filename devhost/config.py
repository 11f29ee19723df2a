"""Host configuration: ``local.settings.json`` Values and ``host.json``, read once into a frozen object.

Mirrors what ``func start`` does (Core Tools ``StartHostAction.UpdateEnvironmentVariables``, host
``HostJsonFileConfigurationSource``): Values become environment variables without overriding variables
already set; ``IsEncrypted: true`` is refused; host.json must say ``"version": "2.0"``.
See https://learn.microsoft.com/azure/azure-functions/functions-host-json and
https://learn.microsoft.com/azure/azure-functions/functions-develop-local#local-settings-file .

Nothing deeper in devhost reads ``os.environ``: components read :attr:`HostConfig.settings`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from devhost.errors import ConfigError

_TIMESPAN = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)$")
_SETTING_EXPR = re.compile(r"%([^%]+)%")


def parse_timespan(text: str) -> timedelta:
    """Parse a .NET TimeSpan string (``[d.]hh:mm:ss[.fffffff]``) into a timedelta.

    Raises ConfigError for any other form.
    """
    m = _TIMESPAN.match(str(text).strip())
    if not m:
        raise ConfigError(f"invalid TimeSpan {text!r}: expected [d.]hh:mm:ss")
    return timedelta(
        days=int(m["d"] or 0), hours=int(m["h"]), minutes=int(m["m"]), seconds=float(m["s"])
    )


def _read_json_object(path: Path, invalid: str) -> dict[str, Any]:
    """The JSON object in ``path`` (UTF-8, BOM allowed). ConfigError ``{path}: {invalid} (...)`` when it is
    not JSON, ``{path}: expected a JSON object`` when it is another JSON value."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: {invalid} ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def load_local_settings(app_dir: Path) -> dict[str, Any]:
    """Read ``local.settings.json`` (absent → empty). Raises ConfigError on bad JSON or IsEncrypted."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    data = _read_json_object(path, "not valid JSON")
    if data.get("IsEncrypted") is True:
        raise ConfigError(
            f"{path}: IsEncrypted is true; devhost cannot decrypt settings. "
            "Set IsEncrypted to false and store the values in plain text (never commit the file)."
        )
    if "IsEncrypted" not in data:
        logging.getLogger("Host.Startup").warning(
            "%s has no IsEncrypted key; Core Tools would treat it as true, devhost reads the values as "
            "plain text. Add \"IsEncrypted\": false.", path
        )
    values = data.get("Values") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: 'Values' must be an object of strings")
    return data


def load_host_json(app_dir: Path) -> dict[str, Any]:
    """Read ``host.json``. Raises ConfigError when missing, not JSON, or not version 2.0."""
    path = app_dir / "host.json"
    if not path.exists():
        raise ConfigError(f"{path}: host.json not found; a Functions app needs one with \"version\": \"2.0\"")
    data = _read_json_object(path, "Unable to parse host configuration file: not valid JSON")
    if "version" not in data:
        raise ConfigError(
            f"{path}: The host.json file is missing the required 'version' property. "
            'Add "version": "2.0".'
        )
    if str(data.get("version", "")) != "2.0":
        raise ConfigError(
            f"{path}: \"version\" must be \"2.0\" (found {data.get('version')!r}); "
            "version 1.x host.json files are not supported"
        )
    return data


def apply_settings(values: Mapping[str, Any], environ: MutableMapping[str, str]) -> None:
    """Copy local.settings Values into ``environ`` without overriding keys already present."""
    for key, value in values.items():
        if key not in environ:
            environ[key] = "" if value is None else str(value)


@dataclass(frozen=True)
class HostConfig:
    """Everything the host needs, built once by :meth:`load` (or directly in tests).

    ``settings`` is the app-settings view (environment after local.settings merge); ``host_json`` the
    parsed host.json. Durations are timedelta; ``port`` is the TCP port on 127.0.0.1.
    """

    app_dir: Path
    data_dir: Path
    host_json: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    port: int = 7071
    clock: str = "system"
    cors: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        app_dir: Path | str,
        *,
        data_dir: Path | str | None = None,
        port: int = 7071,
        clock: str = "system",
        environ: MutableMapping[str, str] | None = None,
    ) -> HostConfig:
        """Read local.settings.json and host.json from ``app_dir``; merge Values into ``environ``
        (default ``os.environ``, which user code reads as app settings).

        Raises ConfigError for a missing app dir, bad settings or bad host.json.
        """
        app = Path(app_dir).resolve()
        if not app.is_dir():
            raise ConfigError(f"app directory {app} does not exist")
        env = os.environ if environ is None else environ
        local = load_local_settings(app)
        apply_settings(local.get("Values") or {}, env)
        host_json = load_host_json(app)
        data = Path(data_dir).resolve() if data_dir else app / ".devhost"
        return cls(
            app_dir=app,
            data_dir=data,
            host_json=MappingProxyType(host_json),
            settings=env,  # live view: user code may read settings set later by tests
            port=port,
            clock=clock,
            cors=MappingProxyType(dict(local.get("Host") or {})),
        )

    # -- host.json accessors --------------------------------------------------------------------------
    def extension_options(self, name: str) -> Mapping[str, Any]:
        """``host.json`` ``extensions.<name>`` (empty when absent)."""
        ext = self.host_json.get("extensions") or {}
        return ext.get(name) or {}

    @property
    def route_prefix(self) -> str:
        """``extensions.http.routePrefix`` (default ``api``), without slashes; may be empty."""
        return str(self.extension_options("http").get("routePrefix", "api")).strip("/")

    @property
    def function_timeout(self) -> timedelta | None:
        """``functionTimeout`` (None when absent or ``-1``: unbounded, as on Premium/Dedicated plans)."""
        raw = self.host_json.get("functionTimeout")
        if raw in (None, "-1", -1):
            return None
        return parse_timespan(str(raw))

    def setting(self, name: str, default: str | None = None) -> str | None:
        """An app setting; ``__`` and ``:`` are equivalent separators, as in the host's configuration."""
        for key in (name, name.replace(":", "__"), name.replace("__", ":")):
            if key in self.settings:
                return self.settings[key]
        return default

    def function_disabled(self, function_name: str) -> bool:
        """``AzureWebJobs.<Name>.Disabled`` or ``AzureWebJobs_<Name>_Disabled`` is ``1`` or ``true``
        (case-insensitive): the trigger listener must not start (webjobs-sdk ``HostListenerFactory``).
        HTTP functions still run under func start (every local request is admin)."""
        for key in (f"AzureWebJobs.{function_name}.Disabled", f"AzureWebJobs_{function_name}_Disabled"):
            value = self.setting(key)
            if value is not None and value.lower() in ("1", "true"):
                return True
        return False

    def resolve(self, text: str) -> str:
        """Replace ``%Setting%`` expressions (binding expressions in queue names, schedules ...).

        Raises ConfigError naming the setting when it is missing.
        """

        def sub(m: re.Match[str]) -> str:
            value = self.setting(m.group(1))
            if value is None:
                raise ConfigError(f"app setting {m.group(1)!r} (used as %{m.group(1)}%) is not set")
            return value

        return _SETTING_EXPR.sub(sub, text)
