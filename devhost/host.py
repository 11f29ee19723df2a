"""The host lifecycle: configuration → app → extensions → serve → drain → stop.

Shaped like uvicorn's ``Server`` (startup → main loop → shutdown with a graceful-drain timeout):

1. :meth:`Host.start` loads the app (:func:`devhost.functions.loader.load_app`), builds the extensions
   named in :data:`EXTENSIONS` (each only if its module exists), binds 127.0.0.1:``port`` (``0`` = ephemeral;
   :attr:`Host.port` is the real one), starts every extension with :class:`HostServices`, then serves
   the ASGI app (:mod:`devhost.http.server`) with uvicorn;
2. :meth:`Host.stop` stops the extensions' own triggers first (timers, queue pollers: nothing fires
   once the app's endpoints are gone), stops accepting connections, lets in-flight HTTP requests finish,
   stops the extensions (they drain their own work), waits for remaining invocations, all bounded by
   ``drain_timeout_s``, then unloads the app.

Like ``func start`` it sets ``AZURE_FUNCTIONS_ENVIRONMENT=Development``, ``WEBSITE_HOSTNAME``,
``AzureWebJobsScriptRoot`` and ``FUNCTIONS_CORETOOLS_ENVIRONMENT`` in the app settings
(docs/host-behaviour.md#settings-and-start-up), plus ``DEVHOST_AUTH_LOGIN_PATH`` while the development
sign-in (:mod:`devhost.http.easyauth`) is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import socket
import time
import uuid
from collections import ChainMap
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any

import uvicorn

from devhost.clock import Clock, VirtualClock, make_clock
from devhost.config import HostConfig
from devhost.errors import ConfigError, DevhostError
from devhost.extension import Extension, HostServices
from devhost.functions.interfaces import FunctionInfo
from devhost.functions.invoke import FunctionInvoker
from devhost.functions.loader import LoadedApp, load_app, methods_of, unload_app
from devhost.http import easyauth
from devhost.http.server import build_asgi_app
from devhost.http.trigger import http_url_template
from devhost.limits import MAX_INCOMPLETE_EVENT_BYTES
from devhost.local_secrets import ensure_local_secrets
from devhost.logs import apply_log_levels, host_logger

EXTENSIONS: tuple[str, ...] = (
    "devhost.durable.extension:DurableExtension",
    "devhost.storage.extension:StorageExtension",
)
CORE_BINDING_TYPES = frozenset({"httpTrigger", "http"})
VERSION = "4.0.0-devhost"
#: Seconds an idle kept-alive HTTP connection stays open: Kestrel's ``KeepAliveTimeout`` default (130 s,
#: https://learn.microsoft.com/dotnet/api/microsoft.aspnetcore.server.kestrel.core.kestrelserverlimits.keepalivetimeout).
#: It must outlast the clients' own idle limit (aiohttp, used by the Durable SDK's client for every call to
#: the host's durable API, keeps connections 15 s): a server closing first races the client's next request
#: on that connection, which then fails with "Server disconnected" (seen as 500s from client functions).
KEEP_ALIVE_S = 130


def load_extensions(specs: Sequence[str]) -> list[Extension]:
    """Instantiate ``module:Class`` specs whose module exists (a missing module is skipped).

    Raises DevhostError when an existing module fails to import or has no such class.
    """
    extensions: list[Extension] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        try:
            found = importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            continue
        try:
            module = importlib.import_module(module_name)
            extensions.append(getattr(module, attr)())
        except Exception as exc:
            raise DevhostError(f"extension {spec} could not be loaded: {type(exc).__name__}: {exc}") from exc
    return extensions


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (the CLI owns SIGINT/SIGTERM, threads have none) and without
    its shutdown sleeps: ``uvicorn.Server.main_loop`` (0.54) notices ``should_exit`` on its next 0.1 s tick
    and ``shutdown`` pauses a fixed 0.1 s after asking connections to close; here :meth:`exit` wakes the
    main loop at once and shutdown waits only until the idle connections are gone (at most the same
    0.1 s). Stopping a host took ~0.2 s of sleeping, paid by every host a test starts."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def exit(self) -> None:
        """Stop serving: the main loop returns at once, then :meth:`shutdown` drains."""
        self.should_exit = True
        self._exit.set()

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn 0.54's ``Server.shutdown`` with its fixed 0.1 s pause replaced by polling: stop
        accepting, ask every connection to close (idle ones close at once), wait for requests in flight
        (bounded by ``timeout_graceful_shutdown``, then cancelled)."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for _ in range(20):
            if not self.server_state.connections:
                break
            await asyncio.sleep(0.005)
        try:
            await asyncio.wait_for(self._wait_tasks_to_complete(),
                                   timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()


class Host:
    """One running devhost. Use ``await start()`` then ``await stop()`` on the same event loop.

    ``clock`` overrides ``config.clock``; ``extensions`` overrides :data:`EXTENSIONS` (a list of
    objects, used by tests); ``drain_timeout_s`` bounds each drain step on stop.
    """

    def __init__(
        self,
        config: HostConfig,
        *,
        clock: Clock | None = None,
        extensions: Sequence[Extension] | None = None,
        extension_specs: Sequence[str] = EXTENSIONS,
        drain_timeout_s: float = 30.0,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or make_clock(config.clock)
        self.drain_timeout_s = drain_timeout_s
        self._given_extensions = extensions
        self._extension_specs = extension_specs
        self.extensions: list[Extension] = []
        self.owners: dict[str, Extension] = {}
        self.app: LoadedApp | None = None
        self.functions: list[FunctionInfo] = []
        self.invoker: FunctionInvoker | None = None
        self.port = config.port
        self.base_url = ""
        self.state = "Default"
        self.instance_id = uuid.uuid4().hex
        self.version = VERSION
        self.started_monotonic = time.monotonic()
        self.log = host_logger()
        self._server: _Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._started_extensions: list[Extension] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._stopped: asyncio.Event | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load, bind, start extensions, serve. Raises AppLoadError / ConfigError / DevhostError; on
        failure everything already started is stopped again."""
        self._stopped = asyncio.Event()
        apply_log_levels(self.config.host_json)
        try:
            self.config.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the data directory {self.config.data_dir}: {exc}") from exc
        self._check_settings()
        generated: dict[str, str] = {}  # local secrets devhost makes up for this data dir (never in Azure)
        ensure_local_secrets(self.config.data_dir, ChainMap(generated, dict(self.config.settings)))
        self.config.export_settings(generated)  # the Values and those secrets, before user code is imported
        self.app = load_app(self.config.app_dir, self.config.script_file)
        try:
            self.functions = list(self.app.functions)
            self.extensions = list(self._given_extensions) if self._given_extensions is not None else \
                load_extensions(self._extension_specs)
            self.owners = self._owners()
            sock = self._bind()
            self.port = sock.getsockname()[1]
            self.base_url = f"http://127.0.0.1:{self.port}"
            self._export_settings()
            self.invoker = FunctionInvoker(self.config, self.clock, self.owners)
            self.invoker.prepare(self.functions)
            self.state = "Initialized"
            self._warn_unowned()
            asgi = build_asgi_app(self)
            services = HostServices(self.config, self.clock, self.functions, self.invoker, self.base_url,
                                    self.log, asgi)
            for ext in self.extensions:
                await ext.start(services)
                self._started_extensions.append(ext)
            config = uvicorn.Config(asgi, log_config=None, access_log=False, lifespan="off",
                                    timeout_graceful_shutdown=int(self.drain_timeout_s) or 1,
                                    timeout_keep_alive=KEEP_ALIVE_S,
                                    h11_max_incomplete_event_size=MAX_INCOMPLETE_EVENT_BYTES)
            self._server = _Server(config)
            self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="devhost-http")
            while not self._server.started:
                if self._serve_task.done():
                    self._serve_task.result()
                    raise DevhostError("the HTTP server stopped during startup")
                await asyncio.sleep(0.005)
        except BaseException:
            await self._shutdown()
            raise
        self.state = "Running"
        self.log.info("Host started: %d function(s), listening on %s", len(self.functions), self.base_url)

    async def stop(self, timeout_s: float | None = None) -> None:
        """Graceful stop (idempotent): stop accepting, drain HTTP requests, stop extensions, wait for
        in-flight invocations; each step bounded by ``timeout_s`` (default ``drain_timeout_s``)."""
        if self.state in ("Stopping", "Stopped"):
            if self._stopped is not None:
                await self._stopped.wait()
            return
        await self._shutdown(timeout_s)

    async def wait_stopped(self) -> None:
        """Return once :meth:`stop` has completed."""
        assert self._stopped is not None
        await self._stopped.wait()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; stop waits for it (bounded) before stopping extensions."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _shutdown(self, timeout_s: float | None = None) -> None:
        timeout = self.drain_timeout_s if timeout_s is None else timeout_s
        self.state = "Stopping"
        try:
            for ext in reversed(self._started_extensions):  # timers and pollers before the HTTP server
                stop_triggers = getattr(ext, "stop_triggers", None)
                if stop_triggers is not None:
                    try:
                        await stop_triggers(timeout)
                    except Exception:
                        self.log.exception("extension %s failed to stop its triggers",
                                           getattr(ext, "name", ext))
            if self._server is not None and self._serve_task is not None:
                self._server.config.timeout_graceful_shutdown = max(1, int(timeout))
                self._server.exit()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._serve_task), timeout + 5)
            if self._background:
                await asyncio.wait(list(self._background), timeout=timeout)
            for ext in reversed(self._started_extensions):
                try:
                    await ext.stop(timeout)
                except Exception:
                    self.log.exception("extension %s failed to stop", getattr(ext, "name", ext))
            self._started_extensions.clear()
            if self.invoker is not None:
                if not await self.invoker.wait_idle(timeout):
                    self.log.warning("%d invocation(s) still running after %.0fs; abandoning them",
                                     self.invoker.in_flight, timeout)
                self.invoker.close()
            if isinstance(self.clock, VirtualClock):
                self.clock.close()
            if self.app is not None:
                unload_app(self.app)
        finally:
            self.state = "Stopped"
            if self._stopped is not None:
                self._stopped.set()

    # -- helpers ------------------------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        # proto IPPROTO_TCP, not 0: accepted sockets inherit it, and asyncio sets TCP_NODELAY only on
        # sockets whose proto is IPPROTO_TCP (asyncio.base_events._set_nodelay). Without it, a response
        # written in two parts (headers, body) on a kept-alive connection waited for the client's delayed
        # ACK: ~40 ms per HTTP request, every Durable client call included (issue 15).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.config.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{self.config.port}: {exc.strerror}; pick another --port"
            ) from exc
        sock.listen(2048)
        sock.setblocking(False)
        return sock

    def _owners(self) -> dict[str, Extension]:
        owners: dict[str, Extension] = {}
        for ext in self.extensions:
            for binding_type in ext.binding_types:
                if binding_type in owners or binding_type in CORE_BINDING_TYPES:
                    raise DevhostError(
                        f"binding type {binding_type!r} is claimed twice (extension {ext.name})"
                    )
                owners[binding_type] = ext
        return owners

    def _warn_unowned(self) -> None:
        known = set(self.owners) | CORE_BINDING_TYPES
        for f in self.functions:
            missing = sorted({str(b.get("type")) for b in f.bindings} - known)
            if missing:
                self.log.warning(
                    "The '%s' function is in error: The binding type(s) '%s' are not registered. "
                    "Please ensure the type is correct and the binding extension is installed.",
                    f.name, ", ".join(missing),
                )

    def _check_settings(self) -> None:
        runtime = self.config.worker_runtime
        if runtime is None:
            self.log.warning("FUNCTIONS_WORKER_RUNTIME is not set; assuming 'python'")
        elif runtime.lower() != "python":
            self.log.warning("FUNCTIONS_WORKER_RUNTIME is %r; devhost runs Python apps only", runtime)

    def _export_settings(self) -> None:
        """The variables ``func start`` sets for the app, once the port is known, plus where the app's pages
        send people to sign in while devhost emulates sign-in (empty when it does not)."""
        core_tools = self.config.setting("FUNCTIONS_CORETOOLS_ENVIRONMENT") or "true"
        emulated = easyauth.enabled(self.config.setting(easyauth.ENABLE_SETTING))
        sign_in = easyauth.LOGIN_PATH if emulated else ""
        self.config.export_settings({
            "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
            "WEBSITE_HOSTNAME": f"localhost:{self.port}",
            "AzureWebJobsScriptRoot": str(self.config.app_dir),
            "FUNCTIONS_CORETOOLS_ENVIRONMENT": core_tools,
            easyauth.LOGIN_PATH_SETTING: sign_in,
        })

    # -- views used by the admin API and the CLI --------------------------------------------------------
    def function(self, name: str) -> FunctionInfo | None:
        """A function by name (case-insensitive), or None."""
        return self.app.function(name) if self.app is not None else None

    def function_list_text(self) -> str:
        """The ``Functions:`` block ``func start`` prints: HTTP functions first (methods, URL), then the
        others with their trigger type; disabled functions as ``Function <name> is disabled.``"""
        lines = ["Functions:", ""]
        http = [f for f in self.functions if f.trigger_type == "httpTrigger"]
        others = [f for f in self.functions if f.trigger_type != "httpTrigger"]
        for f in http:
            methods = f.trigger.get("methods")
            shown = f"[{','.join(methods_of(f.trigger))}]" if methods else ""
            url = http_url_template(f, self.base_url, self.config.route_prefix)
            lines += [f"\t{f.name}: {shown} {url}", ""]
        for f in others:
            if self.config.function_disabled(f.name):
                lines += [f"Function {f.name} is disabled.", ""]
            else:
                lines += [f"\t{f.name}: {f.trigger_type}", ""]
        return "\n".join(lines).rstrip() + "\n"

    def uptime_ms(self) -> int:
        """Milliseconds since the host started (monotonic clock)."""
        return int((time.monotonic() - self.started_monotonic) * 1000)

