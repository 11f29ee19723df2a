"""Identity-based storage settings build credential-based clients (no network: endpoints and credential type
are asserted, no token is requested); connection strings keep working."""

from __future__ import annotations

import pytest
from azure.identity import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential

from shared import storage
from shared.settings import AppSettings
from shared.storage_connection import StorageConnectionError, resolve


def _settings(**env: str) -> AppSettings:
    return AppSettings.from_env(env)


def test_account_name_gives_the_three_public_endpoints_and_default_credential():
    settings = _settings(AzureWebJobsStorage__accountName="casestore")
    assert settings.storage_connection == ""
    connection = resolve(settings)
    assert connection.uses_identity
    assert (connection.blob_url, connection.queue_url, connection.table_url) == (
        "https://casestore.blob.core.windows.net",
        "https://casestore.queue.core.windows.net",
        "https://casestore.table.core.windows.net",
    )
    assert isinstance(connection.credential, DefaultAzureCredential)

    queue = storage.queue_client(settings, "case-events")
    assert queue.url == "https://casestore.queue.core.windows.net/case-events"
    assert isinstance(queue.credential, DefaultAzureCredential)
    container = storage.container_client(settings, "case-audit")
    assert container.url == "https://casestore.blob.core.windows.net/case-audit"
    assert isinstance(container.credential, DefaultAzureCredential)
    table = storage.table_client(settings, "caseledger")
    assert table.url.startswith("https://casestore.table.core.windows.net")
    assert table.table_name == "caseledger"
    assert isinstance(table.credential, DefaultAzureCredential)


def test_managed_identity_with_client_id_and_explicit_service_uris():
    settings = _settings(
        AZUREWEBJOBSSTORAGE__CREDENTIAL="managedidentity",
        AzureWebJobsStorage__clientId="00000000-0000-0000-0000-000000000001",
        AzureWebJobsStorage__blobServiceUri="https://blob.example.net/",
        AzureWebJobsStorage__queueServiceUri="https://queue.example.net",
        AzureWebJobsStorage__tableServiceUri="https://table.example.net",
    )
    connection = resolve(settings)
    assert connection.credential_kind == "ManagedIdentityCredential"
    assert isinstance(connection.credential, ManagedIdentityCredential)
    assert connection.blob_url == "https://blob.example.net"
    queue = storage.queue_client(settings, "q", binary=True)
    assert queue.url == "https://queue.example.net/q"
    assert isinstance(queue.credential, ManagedIdentityCredential)
    assert storage.table_client(settings, "t").url.startswith("https://table.example.net")


def test_service_principal_properties_select_client_secret_credential_and_stay_out_of_repr():
    settings = _settings(
        AzureWebJobsStorage__accountName="casestore",
        AzureWebJobsStorage__tenantId="tenant",
        AzureWebJobsStorage__clientId="client",
        AzureWebJobsStorage__clientSecret="s3cret-value",
    )
    assert "s3cret-value" not in repr(settings)
    connection = resolve(settings)
    assert isinstance(connection.credential, ClientSecretCredential)
    assert "s3cret-value" not in repr(connection)


def test_connection_string_wins_and_still_works_locally():
    settings = _settings(
        AzureWebJobsStorage="UseDevelopmentStorage=true", AzureWebJobsStorage__accountName="x"
    )
    connection = resolve(settings)
    assert not connection.uses_identity and connection.credential_kind == "connection_string"
    queue = storage.queue_client(settings, "case-events")
    assert queue.url == "http://127.0.0.1:10001/devstoreaccount1/case-events"
    assert resolve(AppSettings.from_env({})).connection_string.startswith("DefaultEndpointsProtocol=http")


def test_missing_endpoint_is_named():
    settings = _settings(AzureWebJobsStorage__blobServiceUri="https://blob.example.net")
    with pytest.raises(StorageConnectionError, match="queueServiceUri"):
        resolve(settings)
