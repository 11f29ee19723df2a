"""One place that owns the Storage SDK clients of a running host: resolved connections are cached by
name, each gets one async ``QueueServiceClient`` / ``BlobServiceClient``, queues and containers are
created once, and everything is closed at stop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError

from devhost.storage.connections import StorageConnection, resolve_connection


class StorageClients:
    """Cache of connections and clients. ``settings`` is the app-settings mapping; ``resolve`` the
    ``%Setting%`` resolver (``HostConfig.resolve``)."""

    def __init__(self, settings: Mapping[str, str], resolve: Callable[[str], str] | None = None) -> None:
        self._settings = settings
        self._resolve = resolve
        self._connections: dict[str, StorageConnection] = {}
        self._queue_services: dict[str, Any] = {}
        self._blob_services: dict[str, Any] = {}
        self._created: set[tuple[str, str, str]] = set()

    def connection(self, name: str | None) -> StorageConnection:
        """Resolved connection for a binding's ``connection`` (cached). Raises ConnectionSettingError."""
        key = name or ""
        if key not in self._connections:
            self._connections[key] = resolve_connection(self._settings, name, self._resolve)
        return self._connections[key]

    def queue_service(self, name: str | None) -> Any:
        """The (cached) async QueueServiceClient of connection ``name`` (None → ``AzureWebJobsStorage``)."""
        conn = self.connection(name)
        if conn.setting not in self._queue_services:
            self._queue_services[conn.setting] = conn.queue_service_client()
        return self._queue_services[conn.setting]

    def blob_service(self, name: str | None) -> Any:
        """The (cached) async BlobServiceClient of connection ``name`` (None → ``AzureWebJobsStorage``)."""
        conn = self.connection(name)
        if conn.setting not in self._blob_services:
            self._blob_services[conn.setting] = conn.blob_service_client()
        return self._blob_services[conn.setting]

    def queue(self, connection: str | None, queue: str) -> Any:
        """An async ``QueueClient`` for ``queue`` (no encode/decode policy)."""
        return self.queue_service(connection).get_queue_client(queue)

    async def ensure_queue(self, connection: str | None, queue: str) -> None:
        """Create ``queue`` unless this host already did (an existing queue is fine)."""
        key = ("queue", self.connection(connection).setting, queue)
        if key in self._created:
            return
        with contextlib.suppress(ResourceExistsError):
            await self.queue(connection, queue).create_queue()
        self._created.add(key)

    async def ensure_container(self, connection: str | None, container: str) -> None:
        """Create blob ``container`` unless this host already did (an existing one is fine)."""
        key = ("blob", self.connection(connection).setting, container)
        if key in self._created:
            return
        with contextlib.suppress(ResourceExistsError):
            await self.blob_service(connection).create_container(container)
        self._created.add(key)

    async def close(self) -> None:
        """Close every client (and its transport)."""
        for client in [*self._queue_services.values(), *self._blob_services.values()]:
            with contextlib.suppress(Exception):
                await client.close()
        for conn in self._connections.values():
            close = getattr(conn.credential, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._queue_services.clear()
        self._blob_services.clear()
