"""Blob input and output bindings: path expressions rendered from trigger data, containers created as
needed, values converted the way the Python worker's ``azure.functions.blob.BlobConverter`` does.

Input (``@app.blob_input``): missing blob → ``None``; ``str`` (UTF-8), ``bytes`` or ``func.InputStream``
by annotation (``dataType`` STRING/BINARY when unannotated; default InputStream). Output
(``@app.blob_output``): ``str`` / ``bytes`` / a file-like object, written after success, overwriting;
``None`` (Out never set) writes nothing. See docs/host-behaviour.md#blob-trigger-and-bindings and
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-blob-input .
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from devhost.functions.interfaces import FunctionInfo
from devhost.storage.clients import StorageClients
from devhost.storage.errors import BindingExpressionError
from devhost.storage.expressions import render
from devhost.storage.names import storage_name
from devhost.storage.params import annotation_of, data_type, wants


def split_path(path: str) -> tuple[str, str]:
    """``container/dir/name`` → (validated container, blob name). Raises BindingExpressionError when the
    path has no blob part."""
    container, _, blob = path.strip("/").partition("/")
    if not blob:
        raise BindingExpressionError(f"blob path {path!r} must be 'container/blob'")
    return storage_name(container, "container"), blob


class BlobBindings:
    """Reads and writes blobs for one host. ``now`` is the host clock's ``now``; ``resolve`` the
    ``%Setting%`` resolver."""

    def __init__(
        self,
        clients: StorageClients,
        now: Callable[[], datetime],
        resolve: Callable[[str], str] | None = None,
    ) -> None:
        self.clients, self.now, self.resolve = clients, now, resolve

    def path(self, binding: Mapping[str, Any], trigger_metadata: Mapping[str, Any]) -> tuple[str, str]:
        """The binding's (container, blob) for this invocation. Raises BindingExpressionError."""
        rendered = render(str(binding["path"]), trigger_metadata, now=self.now, resolve_settings=self.resolve)
        return split_path(rendered)

    async def read(
        self, function: FunctionInfo, binding: Mapping[str, Any], trigger_metadata: Mapping[str, Any]
    ) -> Any:
        """Value for a blob input binding (None when the blob does not exist)."""
        container, name = self.path(binding, trigger_metadata)
        client = self.clients.blob_service(binding.get("connection")).get_blob_client(container, name)
        try:
            downloader = await client.download_blob()
            data = await downloader.readall()
        except ResourceNotFoundError:
            return None
        ann = annotation_of(function, str(binding["name"]))
        kind = data_type(binding)
        if wants(ann, str) or (
            not wants(ann, bytes) and kind == "string" and not wants(ann, func.InputStream)
        ):
            return data.decode("utf-8")
        if wants(ann, bytes) or kind == "binary":
            return data
        props = downloader.properties
        return func.blob.InputStream(
            data=data,
            name=f"{container}/{name}",
            uri=client.url,
            length=len(data),
            blob_properties={
                "ETag": props.etag,
                "ContentLength": props.size,
                "LastModified": props.last_modified.isoformat() if props.last_modified else None,
            },
            metadata=dict(props.metadata or {}),
        )

    async def write(
        self, binding: Mapping[str, Any], value: Any, trigger_metadata: Mapping[str, Any]
    ) -> None:
        """Write an output value (str → UTF-8, bytes, file-like ``read()``); None writes nothing.

        Raises TypeError for other values, BindingExpressionError for an unresolvable path.
        """
        if value is None:
            return
        if isinstance(value, str):
            data = value.encode("utf-8")
        elif isinstance(value, bytes | bytearray):
            data = bytes(value)
        elif hasattr(value, "read"):
            read = value.read()
            data = read.encode("utf-8") if isinstance(read, str) else bytes(read)
        else:
            raise TypeError(f"unsupported blob output value of type {type(value).__name__}")
        container, name = self.path(binding, trigger_metadata)
        connection = binding.get("connection")
        await self.clients.ensure_container(connection, container)
        client = self.clients.blob_service(connection).get_blob_client(container, name)
        await client.upload_blob(data, overwrite=True)
