"""Azure Storage clients built from the app's storage connection (queues, blobs, tables).

One place turns the app's storage connection (``AzureWebJobsStorage``: a full connection string, an
explicit Azurite string, ``UseDevelopmentStorage=true``, or the identity-based ``AzureWebJobsStorage__*``
settings, resolved by ``shared/storage_connection.py`` exactly as the host does) into sync SDK clients;
activities run in worker threads so sync clients are fine. Queue clients encode messages as base64 text
(``TextBase64EncodePolicy``), the format the Functions host's queue trigger reads and writes by default
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#encoding).

Errors are the SDK's (``azure.core.exceptions``): ``ResourceExistsError``, ``ResourceNotFoundError``,
``HttpResponseError``, ``ServiceRequestError`` when storage is unreachable.
"""

from __future__ import annotations

import contextlib
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    QueueClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from shared.settings import AppSettings
from shared.storage_connection import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, resolve, resolve_connection_string

__all__ = ["DEV_ACCOUNT_KEY", "DEV_ACCOUNT_NAME", "resolve_connection_string"]


def _queue_service(settings: AppSettings, queue_name: str, **policies: Any) -> QueueClient:
    connection = resolve(settings)
    if connection.connection_string is not None:
        return QueueClient.from_connection_string(connection.connection_string, queue_name, **policies)
    return QueueClient(str(connection.queue_url), queue_name, credential=connection.credential, **policies)


def _blob_service(settings: AppSettings) -> BlobServiceClient:
    connection = resolve(settings)
    if connection.connection_string is not None:
        return BlobServiceClient.from_connection_string(connection.connection_string)
    return BlobServiceClient(str(connection.blob_url), credential=connection.credential)


def _table_service(settings: AppSettings) -> TableServiceClient:
    connection = resolve(settings)
    if connection.connection_string is not None:
        return TableServiceClient.from_connection_string(connection.connection_string)
    return TableServiceClient(str(connection.table_url), credential=connection.credential)


def queue_client(settings: AppSettings, queue_name: str, *, binary: bool = False) -> QueueClient:
    """A queue client whose messages are base64-encoded, as the Functions host expects.

    ``binary=False``: send/receive ``str`` (``TextBase64*Policy``); ``binary=True``: ``bytes``
    (``BinaryBase64*Policy``), for relaying a message's exact bytes.
    """
    if binary:
        return _queue_service(
            settings,
            queue_name,
            message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy(),
        )
    return _queue_service(
        settings,
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )


def ensure_queue(settings: AppSettings, queue_name: str, *, binary: bool = False) -> QueueClient:
    """:func:`queue_client`, creating the queue if it is missing."""
    client = queue_client(settings, queue_name, binary=binary)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def container_client(settings: AppSettings, container_name: str) -> ContainerClient:
    """A blob container client."""
    return _blob_service(settings).get_container_client(container_name)


def ensure_container(settings: AppSettings, container_name: str) -> ContainerClient:
    """:func:`container_client`, creating the container if it is missing."""
    client = container_client(settings, container_name)
    with contextlib.suppress(ResourceExistsError):
        client.create_container()
    return client


def table_client(settings: AppSettings, table_name: str) -> TableClient:
    """A table client (azure-data-tables)."""
    return _table_service(settings).get_table_client(table_name)


def ensure_table(settings: AppSettings, table_name: str) -> TableClient:
    """:func:`table_client`, creating the table if it is missing."""
    service = _table_service(settings)
    service.create_table_if_not_exists(table_name)
    return service.get_table_client(table_name)
