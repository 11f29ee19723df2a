"""The ``python -m devhost`` command line.

``start`` runs an app like ``func start`` does; other packages add subcommands through a
``register(subparsers)`` function in one of :data:`PLUGINS` (the durable task hub adds ``instances``,
``show``, ``raise``, ``terminate``, ``purge``). Each subcommand sets ``handler`` (``args -> exit code``)
with ``parser.set_defaults(handler=...)``.

Exit codes: 0 after a clean run or a graceful stop on SIGINT/SIGTERM; 1 for a configuration or app-loading
error (one ``error: ...`` line on stderr, plus the traceback of an exception raised by the app); 2 for a
command-line usage error (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from devhost import __version__
from devhost.config import HostConfig
from devhost.errors import DevhostError
from devhost.host import Host
from devhost.logs import configure_logging
from devhost.storage import azurite

PLUGINS: tuple[str, ...] = ("devhost.durable.cli", "devhost.storage.cli", "devhost.principal")
DEFAULT_PORT = 7071
log = logging.getLogger("Host.Startup")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with ``start`` and every plugin's subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="devhost: run a Python v2 Azure Functions app (with Durable Functions) locally, "
                    "without Azure Functions Core Tools.",
    )
    parser.add_argument("--version", action="version", version=f"devhost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    start = sub.add_parser(
        "start", help="serve the app in --app-dir (like `func start`)",
        description="Load local.settings.json, host.json and function_app.py from the app directory, "
                    "print the function list and serve on 127.0.0.1 until SIGINT/SIGTERM (graceful drain).",
    )
    start.add_argument("--app-dir", default=".", metavar="DIR",
                       help="directory holding function_app.py, host.json and local.settings.json "
                            "(default: current directory)")
    start.add_argument("--port", type=int, default=None, metavar="PORT",
                       help="TCP port on 127.0.0.1; 0 picks a free port (default: Host.LocalHttpPort from "
                            f"local.settings.json, else {DEFAULT_PORT})")
    start.add_argument("--data-dir", default=None, metavar="DIR",
                       help="where devhost keeps state such as the durable task hub (default: "
                            "<app-dir>/.devhost)")
    start.add_argument("--clock", default="system", choices=("system", "virtual", "virtual-manual"),
                       help="system: real time (default); virtual: time jumps to the next due timer "
                            "whenever the host is idle; virtual-manual: time moves only via "
                            "POST /admin/clock")
    start.add_argument("--drain-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="on SIGINT/SIGTERM, how long to let in-flight invocations finish (default 30)")
    start.add_argument("--verbose", action="store_true",
                       help="show every log line on the console (Executing/Executed, JSON lines, "
                            "tracebacks); without it the console is calm and <data-dir>/logs/devhost.log "
                            "has everything")
    start.add_argument("--demo", action="store_true",
                       help="once ready, call the app setting DEVHOST_DEMO ('module:function', imported "
                            "from the app directory) in a thread with the base URL; nothing when unset")
    start.set_defaults(handler=cmd_start)
    for name in PLUGINS:
        if _module_exists(name):
            importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


def cmd_start(args: argparse.Namespace) -> int:
    """``start``: serve until SIGINT/SIGTERM, then drain and exit 0."""
    try:
        config = HostConfig.load(args.app_dir, data_dir=args.data_dir, clock=args.clock)
        local_port = config.local_http_port
        port = args.port if args.port is not None else (DEFAULT_PORT if local_port is None else local_port)
        config = dataclasses.replace(config, port=port)
    except (DevhostError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    verbose = bool(getattr(args, "verbose", False))
    handlers, log_file = configure_logging(config.host_json, verbose=verbose,
                                           log_dir=config.data_dir / "logs")
    if config.python_debug_logging:
        logging.getLogger().setLevel(logging.DEBUG)
    try:
        return asyncio.run(_serve(config, args, log_file=None if verbose else log_file))
    except DevhostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for handler in handlers:
            logging.getLogger().removeHandler(handler)
            handler.close()


async def _serve(config: HostConfig, args: argparse.Namespace, *, log_file: Path | None = None) -> int:
    """Start the host, print what ``func start`` prints, serve until a signal, drain. ``log_file`` set means
    a calm console: the function list without blank lines, and a pointer to the full log."""
    host = Host(config, drain_timeout_s=args.drain_timeout)
    await host.start()
    listing = host.function_list_text()
    if log_file is not None:
        listing = "\n".join(line for line in listing.splitlines() if line.strip()) + "\n"
    print(f"\n{listing}", flush=True)
    print(f"Listening on {host.base_url}", flush=True)
    if log_file is not None:
        print(f"Full log: {log_file} (--verbose shows it all here)", flush=True)
    print("Press Ctrl+C to stop (graceful drain).", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("Second %s: exiting without waiting for in-flight work", sig.name)
            azurite.stop_all()  # os._exit skips atexit: never leave our Azurite behind
            sys.stdout.flush()
            os_exit(1)
        log.info("%s received: stopping (draining in-flight invocations, up to %.0fs)", sig.name,
                 args.drain_timeout)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        if args.demo:
            start_demo(host)
        await stop.wait()
        await host.stop()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    log.info("Host stopped")
    if _abandoned_function_threads():
        # Sync functions still running past the drain timeout sit in pool threads that the interpreter
        # would join at exit (concurrent.futures), unbounded: leave now, as the drain bound promises.
        sys.stdout.flush()
        sys.stderr.flush()
        os_exit(0)
    return 0


def _abandoned_function_threads(grace_s: float = 0.5) -> bool:
    """True when a function thread (``devhost-fn*``, the invoker's pool) is still busy after the drain;
    idle pool threads end on their own right after the pool's shutdown."""
    deadline = time.monotonic() + grace_s
    for thread in threading.enumerate():
        if thread.name.startswith("devhost-fn"):
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return True
    return False


def start_demo(host: Host) -> threading.Thread | None:
    """Run the callable named by app setting ``DEVHOST_DEMO`` (``module:function``) in a daemon thread
    with the base URL. The module is imported with the app directory on ``sys.path``. Failures are
    logged, never fatal."""
    spec = host.config.demo
    if not spec:
        log.info("--demo: app setting DEVHOST_DEMO is not set; nothing to run")
        return None
    module_name, _, attr = spec.partition(":")

    def run() -> None:
        try:
            if str(host.config.app_dir) not in sys.path:
                sys.path.insert(0, str(host.config.app_dir))
            func = getattr(importlib.import_module(module_name), attr or "main")
            func(host.base_url)
        except Exception:
            log.exception("--demo %s failed", spec)

    thread = threading.Thread(target=run, name="devhost-demo", daemon=True)
    thread.start()
    return thread


def os_exit(code: int) -> None:
    """Leave immediately (second Ctrl+C)."""
    os._exit(code)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False

