"""The Storage binding extension devhost loads as ``devhost.storage.extension:StorageExtension``.

Owns the binding types ``queueTrigger``, ``queue``, ``timerTrigger``, ``blob`` and ``blobTrigger``.
At start it starts (and supervises) Azurite when ``AzureWebJobsStorage`` or a storage binding's connection
points at loopback endpoints where nothing answers (``UseDevelopmentStorage=true`` included; data under
``<data dir>/azurite``; see ``devhost/storage/azurite.py``), creates trigger queues, and
starts one listener per enabled queue, timer and blob-trigger function. Output bindings and blob inputs
are served through the :class:`devhost.extension.Extension` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devhost.errors import DevhostError
from devhost.extension import HostServices
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError
from devhost.storage.azurite import AzuriteProcess, ensure_azurite
from devhost.storage.blob_listener import BlobListener
from devhost.storage.blobs import BlobBindings
from devhost.storage.clients import StorageClients
from devhost.storage.errors import ConnectionSettingError
from devhost.storage.expressions import render
from devhost.storage.names import storage_name
from devhost.storage.ncrontab import parse_schedule
from devhost.storage.queue_listener import QueueListener
from devhost.storage.queue_options import QueueOptions
from devhost.storage.queue_output import QueueSender, message_bodies
from devhost.storage.timer_listener import TimerListener

log = logging.getLogger("devhost.storage")
STORAGE_TYPES = frozenset({"queueTrigger", "queue", "blob", "blobTrigger"})


class StorageExtension:
    """Queue, timer and blob bindings against Azure Storage (Azurite locally)."""

    name = "storage"
    binding_types = frozenset({"queueTrigger", "queue", "timerTrigger", "blob", "blobTrigger"})

    def __init__(self) -> None:
        self.queue_listeners: dict[str, QueueListener] = {}
        self.timer_listeners: dict[str, TimerListener] = {}
        self.blob_listeners: dict[str, BlobListener] = {}
        self.azurite: list[AzuriteProcess] = []
        self._clients: StorageClients | None = None
        self._sender: QueueSender | None = None
        self._blobs: BlobBindings | None = None
        self._services: HostServices | None = None
        self._admin_tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> Sequence[Any]:
        """None: storage triggers serve no HTTP routes."""
        return []

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self, services: HostServices) -> None:
        """Start Azurite if needed, create trigger queues, start listeners.

        Raises ConfigError (bad host.json queues options, schedule, queue name or connection) and
        AzuriteError (Azurite needed but missing or not starting)."""
        self._services = services
        config = services.config
        self._clients = StorageClients(config.settings, config.resolve)
        options = QueueOptions.from_host_json(config.extension_options("queues"))
        self._sender = QueueSender(self._clients, options.message_encoding, self._notify)
        self._blobs = BlobBindings(self._clients, services.clock.now, config.resolve)
        await self._ensure_azurite(services.functions)
        zone = self._zone(config.settings)
        for fn in services.functions:
            try:
                listener = self._listener(fn, options, zone)
                if listener is None:
                    continue
                if config.function_disabled(fn.name):
                    log.info("Function %s is disabled.", fn.name)
                else:
                    await listener.start()
            except DevhostError as exc:  # as the host: this function is in error, the others run
                log.error("The '%s' function is in error: %s", fn.name, exc)
                self.queue_listeners.pop(fn.name, None)
                self.timer_listeners.pop(fn.name, None)
                self.blob_listeners.pop(fn.name, None)

    def _listener(
        self, fn: FunctionInfo, options: QueueOptions, zone: Any
    ) -> QueueListener | TimerListener | BlobListener | None:
        """Build (not start) the listener for a queue, timer or blob-trigger function; None otherwise.

        Raises ConfigError for an unresolvable %Setting%, a bad queue name or schedule."""
        assert self._services is not None and self._clients is not None and self._sender is not None
        config = self._services.config
        if fn.trigger_type == "queueTrigger":
            queue = storage_name(config.resolve(str(fn.trigger["queueName"])))
            queue_listener = QueueListener(
                fn, queue, fn.trigger.get("connection"), options, self._clients, self._sender, self._services
            )
            self.queue_listeners[fn.name] = queue_listener
            return queue_listener
        if fn.trigger_type == "timerTrigger":
            schedule = parse_schedule(config.resolve(str(fn.trigger["schedule"])), zone)
            timer_listener = TimerListener(fn, schedule, self._services, config.data_dir / "timers")
            self.timer_listeners[fn.name] = timer_listener
            return timer_listener
        if fn.trigger_type == "blobTrigger":
            blob_listener = BlobListener(
                fn,
                config.resolve(str(fn.trigger["path"])),
                self._clients,
                self._sender,
                self._services,
                max_attempts=options.max_dequeue_count,
            )
            self.blob_listeners[fn.name] = blob_listener
            return blob_listener
        return None

    async def stop_triggers(self, timeout_s: float) -> None:
        """Stop every trigger listener (timers first), letting in-flight runs finish for ``timeout_s`` s.

        The host calls this before it stops its HTTP server: a timer or queue function that calls the
        app's own endpoints (a durable client starting an orchestration) must not fire once nobody answers
        there. Idempotent; :meth:`stop` calls it too."""
        if self._admin_tasks:
            await asyncio.wait(set(self._admin_tasks), timeout=timeout_s)
        timers = list(self.timer_listeners.values())
        if timers:
            await asyncio.gather(*(x.stop(timeout_s) for x in timers), return_exceptions=True)
        listeners: list[QueueListener | BlobListener] = [
            *self.queue_listeners.values(),
            *self.blob_listeners.values(),
        ]
        if listeners:
            await asyncio.gather(*(x.stop(timeout_s) for x in listeners), return_exceptions=True)

    async def stop(self, timeout_s: float) -> None:
        """Stop listeners (in-flight work gets ``timeout_s`` s), close clients, stop our Azurite."""
        await self.stop_triggers(timeout_s)
        if self._clients is not None:
            await self._clients.close()
        for proc in self.azurite:
            await asyncio.to_thread(proc.stop)
        self.azurite.clear()

    async def _ensure_azurite(self, functions: Sequence[FunctionInfo]) -> None:
        assert self._clients is not None and self._services is not None
        names = {
            b.get("connection") or None
            for fn in functions
            for b in fn.bindings
            if b.get("type") in STORAGE_TYPES
        }
        # AzureWebJobsStorage always counts: apps use it from their own code (SDK clients, the durable
        # task hub in Azure) without any storage binding (e.g. Microsoft's fan_in_fan_out sample).
        names.add(None)
        seen = set()
        for name in sorted(names, key=lambda n: n or ""):
            try:
                endpoints = self._clients.connection(name).loopback_endpoints()
            except ConnectionSettingError:
                continue  # reported as "function is in error" by start()
            if endpoints is None or endpoints in seen:
                continue
            seen.add(endpoints)
            config = self._services.config
            proc = await asyncio.to_thread(
                ensure_azurite, endpoints, location=config.data_dir / "azurite", search_from=config.app_dir
            )
            if proc is not None:
                self.azurite.append(proc)

    @staticmethod
    def _zone(settings: Mapping[str, str]) -> Any:
        """Zone for schedules: ``WEBSITE_TIME_ZONE`` or ``TZ`` (IANA names) else the machine's zone (None)."""
        for key in ("WEBSITE_TIME_ZONE", "TZ"):
            name = settings.get(key)
            if name:
                try:
                    return ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    log.warning("%s=%r is not an IANA time zone; timers use the machine's zone", key, name)
        return None

    def _notify(self, queue: str) -> None:
        for listener in self.queue_listeners.values():
            if listener.queue == queue:
                listener.wake()

    # -- bindings ----------------------------------------------------------------------------------------
    async def resolve_input(
        self, function: FunctionInfo, binding: Mapping[str, Any], trigger_metadata: Mapping[str, Any]
    ) -> Any:
        """Blob input value (None when the blob is missing). Raises DevhostError for other types."""
        if binding.get("type") == "blob" and self._blobs is not None:
            return await self._blobs.read(function, binding, trigger_metadata)
        raise DevhostError(f"binding type {binding.get('type')!r} has no input support in devhost")

    async def write_output(
        self,
        function: FunctionInfo,
        binding: Mapping[str, Any],
        value: Any,
        trigger_metadata: Mapping[str, Any],
    ) -> None:
        """Send queue messages / write a blob after a successful invocation."""
        assert self._sender is not None and self._blobs is not None and self._services is not None
        kind = binding.get("type")
        if kind == "queue":
            config = self._services.config
            queue = storage_name(
                render(
                    str(binding["queueName"]),
                    trigger_metadata,
                    now=self._services.clock.now,
                    resolve_settings=config.resolve,
                )
            )
            await self._sender.send(binding.get("connection"), queue, message_bodies(value))
        elif kind == "blob":
            await self._blobs.write(binding, value, trigger_metadata)
        else:
            raise DevhostError(f"binding type {kind!r} has no output support in devhost")

    # -- admin ---------------------------------------------------------------------------------------------
    async def admin_invoke(self, function: FunctionInfo, input_text: str) -> None:
        """``POST /admin/functions/<name>``: schedule one run and return at once. A queue function gets
        ``input_text`` as the message body, a timer function fires now. Raises DevhostError for other
        functions."""
        if function.name in self.queue_listeners:
            coro = self.queue_listeners[function.name].admin_invoke(input_text)
        elif function.name in self.timer_listeners:
            coro = self.timer_listeners[function.name].fire(admin=True)
        else:
            raise DevhostError(f"function '{function.name}' is not a queue or timer function")
        task = asyncio.create_task(self._quiet(coro), name=f"admin-{function.name}")
        self._admin_tasks.add(task)
        task.add_done_callback(self._admin_tasks.discard)

    @staticmethod
    async def _quiet(coro: Any) -> None:
        with contextlib.suppress(FunctionInvocationError):  # the invoker logged it
            await coro
