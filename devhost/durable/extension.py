"""The Durable Functions binding extension of devhost: task hub, dispatcher, HTTP API, client binding.

Owns the binding types ``orchestrationTrigger``, ``activityTrigger``, ``entityTrigger`` and
``durableClient`` (entity batches: :mod:`devhost.durable.entities`). On start it
opens ``<data_dir>/taskhub.sqlite`` (one file for every hub name; hubs never see each other), builds the
:class:`~devhost.durable.hub.TaskHub` façade and starts the :class:`~devhost.durable.dispatcher.Dispatcher`.
``routes()`` serves the Durable HTTP API (``devhost.durable.http_api``); the durableClient input binding is
the JSON of ``devhost.durable.client_binding`` (docs/durable-extension-protocol.md#the-durable-client);
the client's calls to this host are served in-process (``devhost.durable.local_client``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devhost.config import flag
from devhost.durable import client_binding, http_api, http_task, local_client, sdk_speedups
from devhost.durable.dispatcher import Dispatcher
from devhost.durable.hub import TaskHub
from devhost.durable.invocations import index_functions
from devhost.durable.options import DurableOptions
from devhost.durable.sqlite_store import SqliteStore
from devhost.durable.store import AsyncStore
from devhost.errors import DevhostError

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from devhost.extension import HostServices
    from devhost.functions.interfaces import FunctionInfo

TASK_HUB_FILE = "taskhub.sqlite"


class DurableExtension:
    """devhost's Durable Functions extension (see module docstring). ``hub`` is the running task hub."""

    name = "durable"
    binding_types = frozenset({"orchestrationTrigger", "activityTrigger", "durableClient", "entityTrigger"})

    def __init__(self) -> None:
        self.hub: TaskHub | None = None
        self.dispatcher: Dispatcher | None = None
        self.options: DurableOptions | None = None
        self._store: AsyncStore | None = None
        self._base_url = ""
        self._local = False  # client calls to this host served in-process (devhost.durable.local_client)

    def get_hub(self) -> TaskHub:
        """The running task hub. Raises DevhostError before start / after stop."""
        if self.hub is None:
            raise DevhostError("the durable task hub is not running")
        return self.hub

    def routes(self) -> Sequence[BaseRoute]:
        """The Durable HTTP API routes (``/runtime/webhooks/durabletask/...``)."""
        return list(http_api.routes(self.get_hub))

    async def start(self, services: HostServices) -> None:
        """Open the SQLite task hub in ``data_dir`` and start dispatching. Raises ConfigError (host.json)
        and StoreError (database)."""
        options = DurableOptions.from_config(services.config)
        sdk_speedups.apply()
        path = services.config.data_dir / TASK_HUB_FILE
        store = AsyncStore(lambda: SqliteStore(path, options.hub_name))
        config = services.config
        dispatcher = Dispatcher(store, services.clock, services.functions, services.invoker, options,
                                services.logger,
                                http_token=lambda _resource: config.setting(http_task.TOKEN_SETTING) or None)
        orchestrators = set(index_functions(services.functions, "orchestrationTrigger", "orchestration"))
        hub = TaskHub(options.hub_name, store, services.clock, orchestrators,
                      default_version=options.default_version, wake=dispatcher.wake,
                      entity_names=dispatcher.entities.names)
        dispatcher.on_commit = hub.episode_committed
        self.options, self._store, self.dispatcher, self.hub = options, store, dispatcher, hub
        self._base_url = services.base_url
        await dispatcher.start()
        if services.asgi_app is not None and not flag(config.setting(local_client.HTTP_SETTING)):
            local_client.register(services.base_url, services.asgi_app, asyncio.get_running_loop())
            self._local = True
        services.logger.info("Durable task hub '%s' at %s", options.hub_name, path)

    async def stop(self, timeout_s: float) -> None:
        """Stop the dispatcher (draining running work for at most ``timeout_s``) and close the database."""
        if self._local:
            self._local = False
            await local_client.unregister(self._base_url)
        if self.dispatcher is not None:
            await self.dispatcher.stop(timeout_s)
        if self._store is not None:
            await self._store.aclose()
        self.hub = self.dispatcher = self._store = None
        await client_binding.close_sdk_session()  # the SDK's module-global aiohttp session

    async def resolve_input(
        self, function: FunctionInfo, binding: Mapping[str, Any], trigger_metadata: Mapping[str, Any]
    ) -> Any:
        """The durableClient binding JSON string (docs/durable-extension-protocol.md#the-durable-client).
        Raises DevhostError for other binding types."""
        if binding.get("type") != "durableClient":
            raise DevhostError(f"binding type {binding.get('type')!r} is no durable input binding")
        return client_binding.binding_json(self.get_hub(), self._base_url, binding)

    async def write_output(
        self, function: FunctionInfo, binding: Mapping[str, Any], value: Any,
        trigger_metadata: Mapping[str, Any],
    ) -> None:
        """Durable bindings have no outputs. Raises DevhostError."""
        raise DevhostError(f"the durable extension has no output binding {binding.get('type')!r}")

