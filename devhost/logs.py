"""Log categories, levels, the console format of ``func start``, the calm console and the log file.

Logger names are the host's categories (docs/host-behaviour.md, logging): ``Function.<Name>`` for
Executing/Executed lines, ``Host.Startup`` / ``Host.General`` for host messages. host.json
``logging.logLevel`` (``default`` and per category, longest prefix wins) sets their levels with the .NET
level names. The console shows ``[yyyy-MM-ddTHH:mm:ss.fffZ] message`` per line (Core Tools
``ColoredConsoleLogger``).

``python -m devhost start`` writes every record, tracebacks included, to ``<data dir>/logs/devhost.log``,
rotated by ``logging.handlers.RotatingFileHandler`` (:data:`LOG_FILE_BYTES` per file,
:data:`LOG_FILE_BACKUPS` old files). The console is calm unless ``--verbose``: :class:`CalmFilter` keeps
the host's own messages, the app's plain-text lines (e.g. one per case stage change) and every warning or
error, and leaves the rest to the file (Executing/Executed lines, structured JSON lines, libraries' info
records). A warning or error shows as one line there (:class:`CalmFormatter`), its traceback in the file.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
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


#: Size (bytes) of ``devhost.log`` before it is rotated, and how many rotated files are kept.
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 3
LOG_FILE_NAME = "devhost.log"
#: Logger name prefixes whose info records a calm console always shows (the host's own categories).
HOST_PREFIXES = ("Host.",)
#: Logger name prefixes whose info records a calm console never shows (chatty, or in the log file anyway):
#: Executing/Executed lines, devhost's internals (task hub path, Azurite command line), libraries.
QUIET_PREFIXES = ("Function.", "devhost", "azure", "uvicorn", "httpx", "httpcore", "urllib3", "opentelemetry")


class CalmFilter(logging.Filter):
    """Console filter of the calm mode: warnings and errors, the host's ``Host.*`` messages and the app's
    plain-text info lines pass; Executing/Executed lines, devhost's internal info (``devhost.*``), JSON log
    lines and libraries' info records do not."""

    def filter(self, record: logging.LogRecord) -> bool:
        """True when the record belongs on a calm console (see the class docstring)."""
        if record.levelno >= logging.WARNING:
            return True
        name = record.name
        if name.startswith(HOST_PREFIXES):
            return True
        if name.startswith(QUIET_PREFIXES):
            return False
        return not record.getMessage().lstrip().startswith("{")


class CalmFormatter(FuncFormatter):
    """The func format, one line per record: a multi-line message or one with a traceback keeps its first
    line plus the exception's one-line summary (the host's ``Exception: ...`` line, else the exception) and
    points at the log file for the rest."""

    def __init__(self, log_file: Path | None) -> None:
        super().__init__()
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        """``[time] first line`` (+ `` (details in <file>)`` when something was left out)."""
        text = record.getMessage()
        lines = text.splitlines() or [""]
        first = lines[0]
        marker = "Exception: "
        cause = next((line[len(marker):] for line in lines[1:] if line.startswith(marker)), None)
        if cause is None and record.exc_info and record.exc_info[1] is not None:
            cause = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}".splitlines()[0]
        if cause and cause.strip() and cause not in first:
            first = f"{first}: {cause.strip()[:200]}" if first.strip() else cause.strip()[:200]
        if (len(lines) > 1 or record.exc_info) and self.log_file is not None:
            first += f" (details in {self.log_file})"
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"[{stamp}] {first}"


class FileFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger>: <message>`` with the traceback, for the log file."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.converter = _utc_tuple


def _utc_tuple(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


def configure_logging(
    host_json: Mapping[str, Any], *, verbose: bool, log_dir: Path | None, stream: TextIO | None = None
) -> tuple[list[logging.Handler], Path | None]:
    """The command line's logging: a console handler on ``stream`` (stdout), calm unless ``verbose``, and
    a rotating file ``log_dir/devhost.log`` with everything (skipped when ``log_dir`` is None or cannot be
    created: then the console is the only log, and the calm console says so once). Root at INFO unless
    host.json says otherwise. Returns the handlers (the caller removes them on exit) and the file path."""
    log_file: Path | None = None
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_file = log_dir / LOG_FILE_NAME
            file_handler = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
            file_handler.setFormatter(FileFormatter())
            handlers.append(file_handler)
        except OSError:
            log_file = None
    console = logging.StreamHandler(stream or sys.stdout)
    if verbose or log_file is None:
        console.setFormatter(FuncFormatter())
    else:
        console.setFormatter(CalmFormatter(log_file))
        console.addFilter(CalmFilter())
    handlers.insert(0, console)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    apply_log_levels(host_json, root=True)
    for noisy in ("uvicorn.access", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handlers, log_file
