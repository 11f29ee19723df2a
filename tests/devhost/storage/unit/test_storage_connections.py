"""Connection resolution like the Functions host (pure; no Azure, no Azurite)."""

from __future__ import annotations

import pytest
from azure.identity import aio as identity

from devhost.storage.azurite import DEV_ACCOUNT
from devhost.storage.connections import resolve_connection
from devhost.storage.errors import ConnectionSettingError

CS = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"


def test_default_connection_is_azurewebjobsstorage() -> None:
    """No `connection` → AzureWebJobsStorage; account URLs derived from the account name."""
    conn = resolve_connection({"AzureWebJobsStorage": CS}, None)
    assert conn.setting == "AzureWebJobsStorage"
    assert conn.urls["queue"] == "https://acct.queue.core.windows.net"
    assert conn.loopback_endpoints() is None


def test_use_development_storage_expands_to_azurite_defaults() -> None:
    """UseDevelopmentStorage=true → well-known account on ports 10000/10001."""
    conn = resolve_connection({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, "")
    assert f"http://127.0.0.1:10001/{DEV_ACCOUNT}" == conn.urls["queue"]
    endpoints = conn.loopback_endpoints()
    assert endpoints is not None and endpoints.blob == "http://127.0.0.1:10000"
    assert conn.connection_string is not None and "AccountKey=" in conn.connection_string


def test_connection_name_prefers_azurewebjobs_prefix() -> None:
    """`connection="Mine"` finds AzureWebJobsMine before Mine."""
    settings = {"AzureWebJobsMine": CS, "Mine": CS.replace("acct", "other")}
    assert resolve_connection(settings, "Mine").setting == "AzureWebJobsMine"
    assert (
        resolve_connection({"Mine": CS.replace("acct", "other")}, "Mine").urls["blob"]
        == "https://other.blob.core.windows.net"
    )


def test_percent_setting_in_connection_is_resolved() -> None:
    """`%ConnName%` is looked up first."""
    conn = resolve_connection(
        {"ConnName": "Mine", "Mine": CS}, "%ConnName%", lambda t: t.replace("%ConnName%", "Mine")
    )
    assert conn.setting == "Mine"


def test_explicit_loopback_endpoints_are_azurite() -> None:
    """A full connection string with 127.0.0.1 endpoints points at Azurite on those ports (the table
    service, not named, gets any free port)."""
    cs = (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:4100/{DEV_ACCOUNT};QueueEndpoint=http://127.0.0.1:4101/{DEV_ACCOUNT};"
    )
    endpoints = resolve_connection({"AzureWebJobsStorage": cs}, None).loopback_endpoints()
    assert endpoints is not None and (endpoints.blob, endpoints.queue, endpoints.table) == (
        "http://127.0.0.1:4100",
        "http://127.0.0.1:4101",
        "http://127.0.0.1:0",
    )


def test_identity_account_name_uses_default_azure_credential() -> None:
    """`X__accountName` → https account URLs and DefaultAzureCredential."""
    conn = resolve_connection({"MyConn__accountName": "acct"}, "MyConn")
    assert conn.urls["queue"] == "https://acct.queue.core.windows.net"
    assert isinstance(conn.credential, identity.DefaultAzureCredential)
    assert conn.connection_string is None


def test_identity_service_uris_and_managed_identity() -> None:
    """Per-service URIs with `__credential=managedidentity` → ManagedIdentityCredential."""
    settings = {
        "AzureWebJobsStorage__queueServiceUri": "https://q.example/",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
    }
    conn = resolve_connection(settings, None)
    assert dict(conn.urls) == {"queue": "https://q.example"}
    assert isinstance(conn.credential, identity.ManagedIdentityCredential)


def test_identity_client_secret() -> None:
    """tenantId + clientId + clientSecret → ClientSecretCredential (colon separators work too)."""
    settings = {
        "S:blobServiceUri": "https://b.example",
        "S:tenantId": "t",
        "S:clientId": "c",
        "S:clientSecret": "shh",
    }
    conn = resolve_connection(settings, "S")
    assert isinstance(conn.credential, identity.ClientSecretCredential)
    assert "shh" not in repr(conn)


def test_missing_connection_has_the_hosts_message() -> None:
    """Nothing configured → the host's 'does not exist' error naming AzureWebJobs<name>."""
    with pytest.raises(ConnectionSettingError, match="'AzureWebJobsNope' does not exist"):
        resolve_connection({}, "Nope")


def test_connection_string_never_appears_in_errors() -> None:
    """A malformed connection string is reported by setting name only."""
    with pytest.raises(ConnectionSettingError) as info:
        resolve_connection({"AzureWebJobsStorage": "secretjunk"}, None)
    assert "secretjunk" not in str(info.value)
