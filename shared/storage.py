"""Azure Storage clients built from the app's storage connection (queues, blobs, tables).

One place (:func:`_service`) turns the app's storage connection (``AzureWebJobsStorage``: a full connection
string, an explicit Azurite string, ``UseDevelopmentStorage=true``, or the identity-based
``AzureWebJobsStorage__*`` settings, resolved by ``shared/storage_connection.py`` exactly as the host does)
into sync SDK service clients, built once per process and call site (:class:`CallSite`: bounded retries and
timeouts; activities by default, :func:`request_path` on the HTTP request path); activities run in worker
threads so sync clients are fine.
Queue clients encode messages as base64 text (``TextBase64EncodePolicy``), the format the Functions host's
queue trigger reads and writes by default
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#encoding).

Errors are the SDK's (``azure.core.exceptions``): ``ResourceExistsError``, ``ResourceNotFoundError``,
``HttpResponseError``, ``ServiceRequestError`` when storage is unreachable.
"""

from __future__ import annotations

import contextlib
import re
import threading
import urllib.request
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient, LinearRetry
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)
from azure.storage.queue import LinearRetry as QueueLinearRetry

from shared.case_errors import DependencyError
from shared.settings import AppSettings
from shared.storage_connection import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, resolve, resolve_connection_string

__all__ = ["DEV_ACCOUNT_KEY", "DEV_ACCOUNT_NAME", "resolve_connection_string"]


#: HTTP statuses of storage that a later retry may fix (timeout, throttling, server errors).
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class StorageUnavailable(DependencyError):
    """Storage could not be reached or answered a transient error (``where`` names the caller).

    Raised by :func:`storage_faults`; transient by contract: activities let it escape so the orchestrator
    retries the step with its infrastructure budget, request handlers answer 503 with ``Retry-After``.
    """

    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(f"{where}: storage unavailable ({type(cause).__name__}: {str(cause)[:300]})")
        self.where = where


#: ``x-ms-error-code`` values of a request to a queue, container or table that does not exist.
MISSING_RESOURCE_CODES = frozenset({"QueueNotFound", "ContainerNotFound", "TableNotFound"})


def is_missing_resource(exc: BaseException) -> bool:
    """True for a ``ResourceNotFoundError`` whose error code says the queue, container or table itself is
    missing (:data:`MISSING_RESOURCE_CODES`), not just the message, blob or entity asked for."""
    return isinstance(exc, ResourceNotFoundError) and str(getattr(exc, "error_code", "") or "") in (
        MISSING_RESOURCE_CODES
    )


def is_transient_storage_error(exc: BaseException) -> bool:
    """True for ``ServiceRequestError`` (nothing sent), ``ServiceResponseError`` (no answer) and an
    ``HttpResponseError`` with a status in :data:`TRANSIENT_STATUSES` (or none at all)."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError):
        return exc.status_code is None or exc.status_code in TRANSIENT_STATUSES
    return False


@contextlib.contextmanager
def storage_faults(where: str) -> Iterator[None]:
    """Re-raise transient storage errors (:func:`is_transient_storage_error`) inside the block as
    :class:`StorageUnavailable` naming ``where``; so is a missing queue, container or table
    (:func:`is_missing_resource`: the ``ensure_*`` functions create each once per process, and an emulator
    restarted without persistence comes back empty), after forgetting what was created, so the retry
    creates it again. Other errors pass unchanged."""
    try:
        yield
    except StorageUnavailable:
        raise
    except Exception as exc:
        if is_transient_storage_error(exc):
            raise StorageUnavailable(where, exc) from exc
        if is_missing_resource(exc):  # created once per process, gone since: create again on the retry
            forget_ensured()
            raise StorageUnavailable(where, exc) from exc
        raise


@dataclass(frozen=True)
class CallSite:
    """How patient storage calls from one kind of caller are (per call: ``retry_total`` retries after the
    first try, ``connection_timeout_s`` to connect and ``read_timeout_s`` per socket read). Waits before a
    retry: blob and queue ``backoff_s`` seconds each (the storage SDK's ``LinearRetry``, no jitter); table
    at once, then ``backoff_s * 2**(n-1)`` seconds (azure-core's ``RetryPolicy``, which the tables SDK
    uses). The SDK defaults retry for ~80 s, which held request threads for minutes when storage was down;
    these bound every call.

    Not the storage SDK's ``ExponentialRetry``: it waits ``initial_backoff + increment_base**n`` seconds
    before retry n, so 0.5 s and base 2 made 2.5 s then 4.5 s: every activity call held its thread 7 s
    when storage was unreachable before the orchestrator's own (durable) retry took over."""

    name: str
    retry_total: int
    backoff_s: float
    connection_timeout_s: float
    read_timeout_s: float


#: Activities: a few quick retries; a longer outage is the orchestrator's to ride out (durable retries).
ACTIVITY = CallSite("activity", retry_total=2, backoff_s=0.5, connection_timeout_s=5.0, read_timeout_s=20.0)
#: HTTP request path: fail fast, the handler answers 503 with Retry-After.
REQUEST = CallSite("request", retry_total=0, backoff_s=0.2, connection_timeout_s=2.0, read_timeout_s=5.0)

_SITE: ContextVar[CallSite] = ContextVar("storage_call_site", default=ACTIVITY)
_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()
#: Container / queue / table clients by (their service client's id, name, variant): building one costs
#: 25-90 µs of CPU, several times per case (issue 15). Azure SDK clients are thread-safe.
_CHILDREN: dict[tuple[Any, ...], Any] = {}


def _child(service: Any, name: str, variant: str, build: Any) -> Any:
    """The cached sub-client ``build()`` of ``service`` for ``name`` (service clients are never dropped,
    so their ids stay unique)."""
    key = (id(service), name, variant)
    client = _CHILDREN.get(key)
    if client is None:
        with _CLIENTS_LOCK:
            client = _CHILDREN.setdefault(key, build())
    return client


@contextlib.contextmanager
def request_path(where: str) -> Iterator[None]:
    """Inside the block, storage clients use the :data:`REQUEST` call site (no retries, short timeouts) and
    transient storage errors become :class:`StorageUnavailable` (answer it with :data:`RETRY_AFTER_S`)."""
    token = _SITE.set(REQUEST)
    try:
        with storage_faults(where):
            yield
    finally:
        _SITE.reset(token)


_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,255}$")


def is_safe_key(text: str) -> bool:
    """True when ``text`` may name storage objects as is (an instance id in a blob path or table key):
    1-256 characters of letters, digits and ``-_.:@``, starting with a letter or digit. Validate ids from
    requests with it *before* any storage call (a NUL made the SDK retry for ~80 s)."""
    return bool(_SAFE_KEY.fullmatch(text))


#: Seconds a client should wait before retrying a request that failed with StorageUnavailable (503).
RETRY_AFTER_S = 5


def _service(kind: str, settings: AppSettings) -> Any:
    """The one construction point of storage service clients (``kind``: blob | queue | table), cached per
    process by (kind, connection settings, call site), with the call site's retries and timeouts. The
    connection is ``shared.storage_connection.resolve``'s: a connection string (account key, Azurite) or
    the identity-based service URL with its credential."""
    site = _SITE.get()
    identity = tuple(sorted(dict(settings.storage_identity or {}).items()))
    cache_key = (kind, settings.storage_connection, identity, site)
    client = _CLIENTS.get(cache_key)
    if client is not None:
        return client
    connection = resolve(settings)
    options: dict[str, Any] = {
        "connection_timeout": site.connection_timeout_s,
        "read_timeout": site.read_timeout_s,
        # azure-core's requests transport otherwise re-reads the proxy variables (scanning the whole
        # environment) and ~/.netrc on every request: ~15-25 % of a blob upload's CPU (issue 15). Proxy
        # variables set when the client is built are still honoured.
        "use_env_settings": bool(urllib.request.getproxies_environment()),
    }
    retry: dict[str, Any] = {
        "backoff": site.backoff_s, "retry_total": site.retry_total, "random_jitter_range": 0,
    }
    factory: Any
    if kind == "table":
        factory, url = TableServiceClient, connection.table_url
        options.update(
            retry_total=site.retry_total, retry_backoff_factor=site.backoff_s, retry_backoff_max=10
        )
    elif kind == "blob":
        factory, url = BlobServiceClient, connection.blob_url
        options["retry_policy"] = LinearRetry(**retry)
    else:
        factory, url = QueueServiceClient, connection.queue_url
        options["retry_policy"] = QueueLinearRetry(**retry)
    if connection.connection_string is not None:
        client = factory.from_connection_string(connection.connection_string, **options)
    else:
        client = factory(str(url), credential=connection.credential, **options)
    with _CLIENTS_LOCK:
        return _CLIENTS.setdefault(cache_key, client)


def queue_client(settings: AppSettings, queue_name: str, *, binary: bool = False) -> QueueClient:
    """A queue client whose messages are base64-encoded, as the Functions host expects.

    ``binary=False``: send/receive ``str`` (``TextBase64*Policy``); ``binary=True``: ``bytes``
    (``BinaryBase64*Policy``), for relaying a message's exact bytes. Built from the process's cached
    service client (:func:`_service`), so its retries and timeouts are the call site's.
    """
    service: QueueServiceClient = _service("queue", settings)
    if binary:
        return _child(service, queue_name, "binary", lambda: service.get_queue_client(
            queue_name,
            message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy(),
        ))
    return _child(service, queue_name, "text", lambda: service.get_queue_client(
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    ))


_ENSURED: set[tuple[Any, ...]] = set()


def _ensure_once(kind: str, settings: AppSettings, name: str, create: Any) -> None:
    """Call ``create()`` unless this process already created (or found) ``kind``/``name`` for this
    storage connection. Each create is a storage request; doing it on every call was a quarter of a case's
    requests (issue 15). :func:`storage_faults` forgets them when one turns out to be missing."""
    identity = tuple(sorted(dict(settings.storage_identity or {}).items()))
    key = (kind, settings.storage_connection, identity, name)
    if key in _ENSURED:
        return
    create()
    with _CLIENTS_LOCK:
        _ENSURED.add(key)


def forget_ensured() -> None:
    """Forget every queue, container and table created so far: the next ``ensure_*`` creates it again."""
    with _CLIENTS_LOCK:
        _ENSURED.clear()


def ensure_queue(settings: AppSettings, queue_name: str, *, binary: bool = False) -> QueueClient:
    """:func:`queue_client`, creating the queue if it is missing (once per process, see
    :func:`_ensure_once`)."""
    client = queue_client(settings, queue_name, binary=binary)

    def create() -> None:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()

    _ensure_once("queue", settings, queue_name, create)
    return client


def container_client(settings: AppSettings, container_name: str) -> ContainerClient:
    """A blob container client (from the cached service client of the call site)."""
    service: BlobServiceClient = _service("blob", settings)
    return _child(service, container_name, "", lambda: service.get_container_client(container_name))


def ensure_container(settings: AppSettings, container_name: str) -> ContainerClient:
    """:func:`container_client`, creating the container if it is missing (once per process)."""
    client = container_client(settings, container_name)

    def create() -> None:
        with contextlib.suppress(ResourceExistsError):
            client.create_container()

    _ensure_once("blob", settings, container_name, create)
    return client


def table_client(settings: AppSettings, table_name: str) -> TableClient:
    """A table client (azure-data-tables, from the cached service client of the call site)."""
    service: TableServiceClient = _service("table", settings)
    return _child(service, table_name, "", lambda: service.get_table_client(table_name))


def ensure_table(settings: AppSettings, table_name: str) -> TableClient:
    """:func:`table_client`, creating the table if it is missing (once per process; an emulator restarted
    without persistence comes back empty: :func:`storage_faults` then forgets it, and the retry creates it
    again)."""
    service: TableServiceClient = _service("table", settings)
    _ensure_once("table", settings, table_name, lambda: service.create_table_if_not_exists(table_name))
    return table_client(settings, table_name)
