"""Host configuration: ``local.settings.json`` Values and ``host.json``, read once into a frozen object.

Mirrors what ``func start`` does (Core Tools ``StartHostAction.UpdateEnvironmentVariables``, host
``HostJsonFileConfigurationSource``): Values become environment variables without overriding variables
already set; ``IsEncrypted: true`` is refused; host.json must say ``"version": "2.0"``.
See https://learn.microsoft.com/azure/azure-functions/functions-host-json and
https://learn.microsoft.com/azure/azure-functions/functions-develop-local#local-settings-file .

Configuration is read once, at the edge: :meth:`HostConfig.load` takes a snapshot (environment + Values)
and never writes; every setting devhost itself reads has a typed property here (one boolean rule,
:func:`flag`); :meth:`HostConfig.export_settings` is the one place that writes the app's environment
(the Values, then the variables the host sets, such as ``WEBSITE_HOSTNAME``). Nothing deeper in devhost
reads ``os.environ``.
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


def flag(value: str | None) -> bool:
    """An app setting as a boolean, the host's way: ``1`` or ``true`` (any case, spaces ignored)."""
    return (value or "").strip().lower() in ("1", "true")


def _values(local: Mapping[str, Any]) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in (local.get("Values") or {}).items()}


@dataclass(frozen=True)
class HostConfig:
    """Everything the host needs, built once by :meth:`load` (or directly in tests).

    ``settings`` is the app settings as read at load (the environment, plus local.settings Values for keys
    it lacks), frozen; ``host_json`` the parsed host.json; ``local_host`` the local.settings ``Host``
    section (read through :attr:`cors_origins`, :attr:`cors_credentials`, :attr:`local_http_port`).
    ``environ`` is where :meth:`export_settings` writes (``os.environ`` for a real host). Durations are
    timedelta; ``port`` is the TCP port on 127.0.0.1.
    """

    app_dir: Path
    data_dir: Path
    host_json: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    port: int = 7071
    clock: str = "system"
    local_host: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)  # local.settings Values
    environ: MutableMapping[str, str] | None = field(default=None, compare=False, repr=False)

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
        """Read local.settings.json and host.json from ``app_dir`` and snapshot ``environ`` (default
        ``os.environ``) with the Values filling keys it lacks. Writes nothing: :meth:`export_settings`
        does, into ``environ``.

        Raises ConfigError for a missing app dir, bad settings or bad host.json.
        """
        app = Path(app_dir).resolve()
        if not app.is_dir():
            raise ConfigError(f"app directory {app} does not exist")
        env = os.environ if environ is None else environ
        local = load_local_settings(app)
        values = _values(local)
        host_json = load_host_json(app)
        data = Path(data_dir).resolve() if data_dir else app / ".devhost"
        return cls(
            app_dir=app,
            data_dir=data,
            host_json=MappingProxyType(host_json),
            settings=MappingProxyType({**values, **env}),
            port=port,
            clock=clock,
            local_host=MappingProxyType(dict(local.get("Host") or {})),
            values=MappingProxyType(values),
            environ=env,
        )

    def export_settings(self, host_values: Mapping[str, str] | None = None) -> None:
        """THE place devhost writes the app's environment (user code reads app settings there): the
        local.settings Values for keys not already set (as ``func start``), then ``host_values`` (the
        variables the host itself sets, e.g. ``WEBSITE_HOSTNAME``; they override). No-op without an
        ``environ`` (a config built directly in tests)."""
        if self.environ is None:
            return
        for key, value in self.values.items():
            self.environ.setdefault(key, value)
        self.environ.update(host_values or {})

    # -- local.settings.json Host section -------------------------------------------------------------
    @property
    def cors_origins(self) -> tuple[str, ...]:
        """``Host.CORS``: comma-separated allowed origins (``*`` = any); empty = no CORS headers."""
        return tuple(o.strip() for o in str(self.local_host.get("CORS") or "").split(",") if o.strip())

    @property
    def cors_credentials(self) -> bool:
        """``Host.CORSCredentials`` is true."""
        return flag(str(self.local_host.get("CORSCredentials", "")))

    @property
    def local_http_port(self) -> int | None:
        """``Host.LocalHttpPort`` (None when absent). Raises ConfigError when it is not a port number."""
        raw = self.local_host.get("LocalHttpPort")
        if raw in (None, ""):
            return None
        try:
            port = int(str(raw))
        except ValueError as exc:
            raise ConfigError(
                f"local.settings.json Host.LocalHttpPort must be a port number, not {raw!r}") from exc
        if not 0 <= port <= 65535:
            raise ConfigError(f"local.settings.json Host.LocalHttpPort must be 0-65535, not {port}")
        return port

    # -- app settings devhost reads --------------------------------------------------------------------
    @property
    def script_file(self) -> str:
        """``PYTHON_SCRIPT_FILE_NAME`` (default ``function_app.py``): the app's entry script."""
        return self.setting("PYTHON_SCRIPT_FILE_NAME") or "function_app.py"

    @property
    def worker_runtime(self) -> str | None:
        """``FUNCTIONS_WORKER_RUNTIME`` as set (None when absent; devhost runs ``python`` only)."""
        return self.setting("FUNCTIONS_WORKER_RUNTIME")

    @property
    def homepage_enabled(self) -> bool:
        """False when ``AzureWebJobsDisableHomepage`` is true (the root URL then answers 404)."""
        return not flag(self.setting("AzureWebJobsDisableHomepage"))

    @property
    def python_debug_logging(self) -> bool:
        """``PYTHON_ENABLE_DEBUG_LOGGING`` is true: the console shows DEBUG records."""
        return flag(self.setting("PYTHON_ENABLE_DEBUG_LOGGING"))

    @property
    def thread_pool_threads(self) -> int | None:
        """``PYTHON_THREADPOOL_THREAD_COUNT`` when it is a whole number ≥ 1, else None (the default)."""
        raw = (self.setting("PYTHON_THREADPOOL_THREAD_COUNT") or "").strip()
        return int(raw) if raw.isdigit() and int(raw) >= 1 else None

    @property
    def demo(self) -> str | None:
        """``DEVHOST_DEMO``: ``module:function`` run by ``start --demo`` (None when unset or empty)."""
        return self.setting("DEVHOST_DEMO") or None

    @property
    def site_name(self) -> str | None:
        """``WEBSITE_SITE_NAME`` (the default task hub name on Azure), None when unset or empty."""
        return self.setting("WEBSITE_SITE_NAME") or None

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
        return any(flag(self.setting(key)) for key in (
            f"AzureWebJobs.{function_name}.Disabled", f"AzureWebJobs_{function_name}_Disabled"))

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
