"""Azure Storage clients built from the app's connection string (queues, blobs, tables).

One place turns ``settings.storage_connection`` (``AzureWebJobsStorage``: a full connection string, an
explicit Azurite string, or ``UseDevelopmentStorage=true``) into sync SDK clients; activities run in worker
threads so sync clients are fine. Queue clients encode messages as base64 text (``TextBase64EncodePolicy``),
the format the Functions host's queue trigger reads and writes by default
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#encoding).

Errors are the SDK's (``azure.core.exceptions``): ``ResourceExistsError``, ``ResourceNotFoundError``,
``HttpResponseError``, ``ServiceRequestError`` when storage is unreachable.
"""

from __future__ import annotations

import contextlib

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

#: The well-known Azurite account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def resolve_connection_string(connection: str) -> str:
    """The explicit form of ``connection``: ``UseDevelopmentStorage=true`` becomes the Azurite default
    string (127.0.0.1, ports 10000/10001/10002); anything else is returned unchanged."""
    if connection.strip().rstrip(";").lower() == "usedevelopmentstorage=true":
        host = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};AccountKey={DEV_ACCOUNT_KEY};"
            f"BlobEndpoint={host}:10000/{DEV_ACCOUNT_NAME};QueueEndpoint={host}:10001/{DEV_ACCOUNT_NAME};"
            f"TableEndpoint={host}:10002/{DEV_ACCOUNT_NAME};"
        )
    return connection


def queue_client(settings: AppSettings, queue_name: str, *, binary: bool = False) -> QueueClient:
    """A queue client whose messages are base64-encoded, as the Functions host expects.

    ``binary=False``: send/receive ``str`` (``TextBase64*Policy``); ``binary=True``: ``bytes``
    (``BinaryBase64*Policy``), for relaying a message's exact bytes.
    """
    connection = resolve_connection_string(settings.storage_connection)
    if binary:
        return QueueClient.from_connection_string(
            connection,
            queue_name,
            message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy(),
        )
    return QueueClient.from_connection_string(
        connection,
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
    service = BlobServiceClient.from_connection_string(resolve_connection_string(settings.storage_connection))
    return service.get_container_client(container_name)


def ensure_container(settings: AppSettings, container_name: str) -> ContainerClient:
    """:func:`container_client`, creating the container if it is missing."""
    client = container_client(settings, container_name)
    with contextlib.suppress(ResourceExistsError):
        client.create_container()
    return client


def table_client(settings: AppSettings, table_name: str) -> TableClient:
    """A table client (azure-data-tables)."""
    service = TableServiceClient.from_connection_string(
        resolve_connection_string(settings.storage_connection)
    )
    return service.get_table_client(table_name)


def ensure_table(settings: AppSettings, table_name: str) -> TableClient:
    """:func:`table_client`, creating the table if it is missing."""
    service = TableServiceClient.from_connection_string(
        resolve_connection_string(settings.storage_connection)
    )
    service.create_table_if_not_exists(table_name)
    return service.get_table_client(table_name)
