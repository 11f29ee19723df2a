"""Log categories, levels and the console format of ``func start``.

Logger names are the host's categories (``functions-host-semantics.md`` §2.3, §5): ``Function.<Name>``
for Executing/Executed lines, ``Host.Startup`` / ``Host.General`` for host messages. host.json
``logging.logLevel`` (``default`` and per category, longest prefix wins) sets their levels with the .NET
level names. The console shows ``[yyyy-MM-ddTHH:mm:ss.fffZ] message`` per line (Core Tools
``ColoredConsoleLogger``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

NET_LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "information": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "none": logging.CRITICAL + 10,
}

HOST_LOGGER = "Host.General"
STARTUP_LOGGER = "Host.Startup"


def function_logger(function_name: str) -> logging.Logger:
    """Logger of category ``Function.<Name>`` (Executing/Executed lines)."""
    return logging.getLogger(f"Function.{function_name}")


def host_logger() -> logging.Logger:
    """Logger of the host's own messages (category ``Host.General``)."""
    return logging.getLogger(HOST_LOGGER)


def level_of(name: str | None, default: int = logging.INFO) -> int:
    """.NET level name (``Information``, ``Warning`` ...) → ``logging`` level; ``default`` when unknown."""
    return NET_LEVELS.get(str(name or "").strip().lower(), default)


def apply_log_levels(host_json: Mapping[str, Any], *, root: bool = False) -> None:
    """Set logger levels from host.json ``logging.logLevel``.

    ``default`` applies to the ``Function`` and ``Host`` categories (and the root logger when ``root``:
    the command line does that, in-process tests do not); every other key is a category name, e.g.
    ``Function.hello`` or ``Host.Results``.
    """
    levels = ((host_json.get("logging") or {}).get("logLevel") or {})
    default = None
    for key, value in levels.items():
        if key.lower() == "default":
            default = level_of(value)
        else:
            logging.getLogger(key).setLevel(level_of(value))
    if default is not None:
        for name in ("Function", "Host"):
            logger = logging.getLogger(name)
            logger.setLevel(default)
        if root:
            logging.getLogger().setLevel(default)


class FuncFormatter(logging.Formatter):
    """``[2026-01-01T12:00:00.123Z] message``: UTC with milliseconds, every line of the message prefixed."""

    def format(self, record: logging.LogRecord) -> str:
        """Each line of the message (and traceback) prefixed ``[<UTC ISO time>Z]``, as ``func start`` does."""
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return "\n".join(f"[{stamp}] {line}" for line in text.splitlines() or [""])


def configure_console(host_json: Mapping[str, Any], stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stdout) in the func format; root at INFO unless host.json
    says otherwise. Returns the handler (the caller removes it on exit)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(FuncFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    apply_log_levels(host_json, root=True)
    for noisy in ("uvicorn.access", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
