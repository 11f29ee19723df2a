"""Resolve a binding's ``connection`` the way the Functions host does, and build Storage SDK clients.

Rules (webjobs-sdk ``IConfigurationExtensions.GetWebJobsConnectionSection``; doc
https://learn.microsoft.com/azure/azure-functions/functions-reference#connections):

1. empty ``connection`` → ``Storage``; ``%Setting%`` expressions are resolved first;
2. look for ``AzureWebJobs<name>`` (``ConnectionStrings:`` prefix first, then the root), then ``<name>``;
3. a string value is a connection string (``UseDevelopmentStorage=true`` expands to the well-known Azurite
   account and loopback endpoints, so every SDK version works);
4. otherwise settings ``<name>__accountName`` / ``__blobServiceUri`` / ``__queueServiceUri`` /
   ``__tableServiceUri`` form an identity-based connection, with a credential chosen from
   ``__credential`` / ``__clientId`` / ``__tenantId`` / ``__clientSecret`` (azure-identity; default
   ``DefaultAzureCredential``);
5. nothing → :class:`ConnectionSettingError` with the host's message.

Connection strings and keys are secrets: they are never logged or put in error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from devhost.storage.azurite import DEV_ACCOUNT, DEV_KEY, AzuriteEndpoints
from devhost.storage.errors import ConnectionSettingError

SERVICES = ("blob", "queue", "table")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def lookup(settings: Mapping[str, str], key: str) -> str | None:
    """App setting ``key`` where ``__`` and ``:`` are equivalent and case is ignored (as in the host)."""
    variants = {key, key.replace(":", "__"), key.replace("__", ":")}
    for k in variants:
        if k in settings:
            return settings[k]
    folded = {v.lower() for v in variants}
    for k, v in settings.items():
        if k.lower() in folded:
            return v
    return None


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;...`` → dict with lower-cased keys (values kept; ``=`` inside values allowed)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError("connection string segment without '='")
        out[key.strip().lower()] = value.strip()
    return out


@dataclass(frozen=True)
class StorageConnection:
    """A resolved connection: per-service account URLs plus a connection string or a token credential.

    ``setting`` is the app setting (or prefix) it came from, e.g. ``AzureWebJobsStorage``;
    ``urls`` maps blob/queue/table to account URLs such as ``http://127.0.0.1:10001/devstoreaccount1``.
    """

    setting: str
    urls: Mapping[str, str]
    connection_string: str | None = field(default=None, repr=False)
    credential: Any = field(default=None, repr=False)
    credential_kind: str = "connection-string"

    def loopback_endpoints(self) -> AzuriteEndpoints | None:
        """Azurite endpoints when the blob and queue URLs point at this machine (else None)."""
        hosts = [urlparse(self.urls.get(s, "")) for s in ("blob", "queue")]
        if not all(h.hostname in _LOOPBACK and h.port for h in hosts):
            return None
        table = self.urls.get("table", "")
        if urlparse(table).hostname not in _LOOPBACK or not urlparse(table).port:
            table = "http://127.0.0.1:0"  # no loopback table endpoint: any free port
        return AzuriteEndpoints(
            blob=_service_root(self.urls["blob"]),
            queue=_service_root(self.urls["queue"]),
            table=_service_root(table),
        )

    def queue_service_client(self) -> Any:
        """A new ``azure.storage.queue.aio.QueueServiceClient`` (the caller closes it).

        Messages are sent and received without SDK encode/decode policies: devhost encodes itself
        (host.json ``messageEncoding``)."""
        from azure.storage.queue.aio import QueueServiceClient

        if self.connection_string is not None:
            return QueueServiceClient.from_connection_string(self.connection_string)
        return QueueServiceClient(self._url("queue"), credential=self.credential)

    def blob_service_client(self) -> Any:
        """A new ``azure.storage.blob.aio.BlobServiceClient`` (the caller closes it)."""
        from azure.storage.blob.aio import BlobServiceClient

        if self.connection_string is not None:
            return BlobServiceClient.from_connection_string(self.connection_string)
        return BlobServiceClient(self._url("blob"), credential=self.credential)

    def _url(self, service: str) -> str:
        url = self.urls.get(service)
        if not url:
            raise ConnectionSettingError(
                self.setting,
                f"connection {self.setting!r} has no {service} endpoint: set "
                f"{self.setting}__{service}ServiceUri or {self.setting}__accountName",
            )
        return url


def _service_root(account_url: str) -> str:
    p = urlparse(account_url)
    return f"{p.scheme}://{p.netloc}"


def from_connection_string(setting: str, text: str) -> StorageConnection:
    """Build a connection from a connection string (``UseDevelopmentStorage=true`` expanded).

    Raises ConnectionSettingError when it is malformed or names no endpoint.
    """
    try:
        parts = parse_connection_string(text)
    except ValueError as exc:
        raise ConnectionSettingError(
            setting, f"app setting {setting!r} is not a valid connection string"
        ) from exc
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        base = AzuriteEndpoints.default()
        proxy = parts.get("developmentstorageproxyuri")
        if proxy:
            host = proxy.rstrip("/")
            base = AzuriteEndpoints(blob=f"{host}:10000", queue=f"{host}:10001", table=f"{host}:10002")
        return StorageConnection(setting, {s: base.account_url(s) for s in SERVICES}, base.connection_string)
    account = parts.get("accountname")
    protocol = parts.get("defaultendpointsprotocol", "https")
    suffix = parts.get("endpointsuffix", "core.windows.net")
    urls: dict[str, str] = {}
    for svc in SERVICES:
        explicit = parts.get(f"{svc}endpoint")
        if explicit:
            urls[svc] = explicit.rstrip("/")
        elif account:
            urls[svc] = f"{protocol}://{account}.{svc}.{suffix}"
    if not urls:
        raise ConnectionSettingError(
            setting, f"app setting {setting!r} is a connection string without AccountName or endpoints"
        )
    return StorageConnection(setting, urls, text)


def _credential(settings: Mapping[str, str], prefix: str) -> tuple[Any, str]:
    """The azure-identity (aio) credential the host's ClientFactory would build for ``prefix``."""
    from azure.identity import aio as identity

    def get(key: str) -> str | None:
        return lookup(settings, f"{prefix}__{key}")

    kind = (get("credential") or "").lower()
    tenant, client, secret, cert = get("tenantId"), get("clientId"), get("clientSecret"), get("certificate")
    if kind == "managedidentity":
        resource = get("managedIdentityResourceId")
        if resource:
            return identity.ManagedIdentityCredential(identity_config={"resource_id": resource}), kind
        return identity.ManagedIdentityCredential(client_id=client), kind
    if kind == "workloadidentity":
        return identity.WorkloadIdentityCredential(
            tenant_id=tenant, client_id=client, token_file_path=get("tokenFilePath")
        ), kind
    if tenant and client and secret:
        return identity.ClientSecretCredential(tenant, client, secret), "clientsecret"
    if tenant and client and cert:
        raise ConnectionSettingError(
            prefix,
            f"{prefix}__certificate (a certificate thumbprint from the Windows store) is not "
            "supported locally; use a client secret or DefaultAzureCredential (az login)",
        )
    return identity.DefaultAzureCredential(), "default"


def resolve_connection(
    settings: Mapping[str, str], connection: str | None, resolve: Any = None
) -> StorageConnection:
    """Resolve a binding's ``connection`` (None/empty → ``Storage`` → ``AzureWebJobsStorage``).

    ``resolve`` is an optional ``%Setting%`` resolver (``HostConfig.resolve``). Raises
    ConnectionSettingError, with the host's wording, when nothing is configured.
    """
    name = (resolve(connection) if (resolve and connection) else connection) or "Storage"
    candidates = [f"AzureWebJobs{name}", name]
    for cand in candidates:
        for key in (f"ConnectionStrings:{cand}", cand):
            value = lookup(settings, key)
            if value:
                return from_connection_string(cand, value)
    for cand in candidates:
        urls: dict[str, str] = {}
        account = lookup(settings, f"{cand}__accountName")
        for svc in SERVICES:
            if account:
                urls[svc] = f"https://{account}.{svc}.core.windows.net"
            else:
                uri = lookup(settings, f"{cand}__{svc}ServiceUri")
                if uri:
                    urls[svc] = uri.rstrip("/")
        if urls:
            credential, kind = _credential(settings, cand)
            return StorageConnection(cand, urls, None, credential, kind)
    shown = name if name.lower().startswith("azurewebjobs") else f"AzureWebJobs{name}"
    raise ConnectionSettingError(
        name,
        f"Storage account connection string '{shown}' does not exist. "
        "Make sure that it is a defined App Setting.",
    )


__all__ = ["DEV_ACCOUNT", "DEV_KEY", "StorageConnection", "lookup", "resolve_connection"]
