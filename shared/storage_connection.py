"""Resolve the app's storage connection (``AzureWebJobsStorage``) the way the Functions host does.

Two forms, exactly as the host reads its own storage connection
(https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity,
"Common properties for identity-based connections"):

- a **connection string** in ``AzureWebJobsStorage`` (``UseDevelopmentStorage=true`` or an explicit Azurite
  or account-key string locally): it wins whenever it is set, as in the host's configuration binding;
- an **identity-based connection**, the settings ``AzureWebJobsStorage__<property>`` (``__`` is the host's
  section separator): ``accountName`` gives ``https://<account>.{blob,queue,table}.core.windows.net``;
  ``blobServiceUri`` / ``queueServiceUri`` / ``tableServiceUri`` override one service each (sovereign
  clouds, private endpoints); ``credential=managedidentity`` (with ``clientId`` for a user-assigned
  identity) selects ``ManagedIdentityCredential``; ``tenantId`` + ``clientId`` + ``clientSecret`` select
  ``ClientSecretCredential`` (local development against a real account); anything else uses
  ``DefaultAzureCredential`` (``managed_identity_client_id`` = ``clientId`` when given), from
  ``azure-identity``.

:func:`resolve` is pure (no network: credentials only fetch tokens on first use) and returns a
:class:`StorageConnection`; ``shared/storage.py`` builds the SDK clients from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.case_errors import ConfigurationError
from shared.secret_settings import secret_setting

if TYPE_CHECKING:  # settings.py imports identity_properties from here
    from shared.settings import AppSettings

#: The host's setting name; identity-based properties are ``AzureWebJobsStorage__<property>``.
CONNECTION_SETTING = "AzureWebJobsStorage"
SECTION_SEPARATOR = "__"
SERVICES = ("blob", "queue", "table")

#: The well-known Azurite account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class StorageConnectionError(ConfigurationError, ValueError):
    """Neither a connection string nor a usable identity-based connection is configured; the message names
    the settings that were looked at (never their values)."""


@dataclass(frozen=True)
class StorageConnection:
    """How to reach storage: either ``connection_string`` (explicit form, Azurite expanded) or the three
    service endpoints plus ``credential`` (an ``azure.core.credentials.TokenCredential``).

    ``credential_kind`` names the chosen credential class (``DefaultAzureCredential``,
    ``ManagedIdentityCredential``, ``ClientSecretCredential``) or ``connection_string``.
    """

    connection_string: str | None = field(default=None, repr=False)
    blob_url: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    credential: Any = field(default=None, repr=False)
    credential_kind: str = "connection_string"

    @property
    def uses_identity(self) -> bool:
        """True for an identity-based connection (endpoints + token credential)."""
        return self.connection_string is None


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


def identity_properties(environ: Mapping[str, str], name: str = CONNECTION_SETTING) -> dict[str, str]:
    """The non-empty ``<name>__<property>`` settings of ``environ`` as ``{property (lower case): value}``
    (the host's configuration keys are case-insensitive). A property whose value is an unresolved Key Vault
    reference (e.g. ``clientSecret``) is left out, with a warning naming it (``shared.secret_settings``)."""
    prefix = (name + SECTION_SEPARATOR).lower()
    found: dict[str, str] = {}
    for key in environ:
        if key.lower().startswith(prefix):
            value = secret_setting(environ, key)
            if value:
                found[key[len(prefix) :].lower()] = value
    return found


def build_credential(properties: Mapping[str, str]) -> tuple[Any, str]:
    """The token credential the host would use for ``properties`` (lower-case keys, see the module
    docstring) and its class name. Builds the object only; no token is requested."""
    from azure.identity import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential

    client_id = properties.get("clientid")
    if properties.get("credential", "").lower() == "managedidentity":
        if client_id:
            return ManagedIdentityCredential(client_id=client_id), "ManagedIdentityCredential"
        return ManagedIdentityCredential(), "ManagedIdentityCredential"
    tenant, secret = properties.get("tenantid"), properties.get("clientsecret")
    if tenant and client_id and secret:
        return ClientSecretCredential(tenant, client_id, secret), "ClientSecretCredential"
    if client_id:
        return DefaultAzureCredential(managed_identity_client_id=client_id), "DefaultAzureCredential"
    return DefaultAzureCredential(), "DefaultAzureCredential"


def service_urls(properties: Mapping[str, str]) -> dict[str, str]:
    """``{"blob"|"queue"|"table": endpoint}`` from ``<service>ServiceUri`` or ``accountName``. Raises
    :class:`StorageConnectionError` when a service has neither."""
    account = properties.get("accountname")
    urls: dict[str, str] = {}
    for service in SERVICES:
        explicit = properties.get(f"{service}serviceuri") or (
            properties.get("serviceuri") if service == "blob" else None
        )
        if explicit:
            urls[service] = explicit.rstrip("/")
        elif account:
            urls[service] = f"https://{account}.{service}.core.windows.net"
        else:
            raise StorageConnectionError(
                f"{CONNECTION_SETTING}__accountName or {CONNECTION_SETTING}__{service}ServiceUri is required "
                f"for an identity-based storage connection ({service} service)"
            )
    return urls


def resolve(settings: AppSettings) -> StorageConnection:
    """The storage connection of ``settings``: its connection string when set (``storage_connection``),
    else the identity-based properties (``storage_identity``). Raises :class:`StorageConnectionError`
    when neither is usable."""
    if settings.storage_connection:
        return StorageConnection(connection_string=resolve_connection_string(settings.storage_connection))
    properties = dict(settings.storage_identity)
    if not properties:
        raise StorageConnectionError(
            f"no storage connection: set {CONNECTION_SETTING} (a connection string) or "
            f"{CONNECTION_SETTING}__accountName (identity-based)"
        )
    urls = service_urls(properties)
    credential, kind = build_credential(properties)
    return StorageConnection(
        blob_url=urls["blob"],
        queue_url=urls["queue"],
        table_url=urls["table"],
        credential=credential,
        credential_kind=kind,
    )
