"""shared/secret_settings.py: an unresolved Key Vault reference is not a secret. It reads as unset, the
warning names the setting once and never a value; the app's own settings objects take their "not set"
path (GitHub secret and token, storage connection string and client secret, model API keys)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from shared import secret_settings
from shared.judgment_settings import JudgmentSettings
from shared.secret_settings import is_unresolved_reference, report_unresolved, secret_setting
from shared.settings import AppSettings
from shared.storage_connection import StorageConnectionError, resolve
from tests.fixtures.key_vault import reference

LOGGER = "case_workflow.secrets"


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    secret_settings.forget_warnings()
    yield
    secret_settings.forget_warnings()


@pytest.mark.parametrize(
    "value",
    [
        reference("github-webhook-secret"),
        "  " + reference("x") + "\n",
        "@microsoft.keyvault(VaultName=v;SecretName=s)",  # the other documented form, any case
        "@MICROSOFT.KEYVAULT(SecretUri=https://v.vault.azure.net/secrets/s/0123)",
    ],
)
def test_reference_text_in_any_case_and_spacing_is_unresolved(value):
    assert is_unresolved_reference(value)
    assert secret_setting({"S": value}, "S") is None


@pytest.mark.parametrize(
    "value",
    ["s3cret", "x@Microsoft.KeyVault(SecretUri=y)", "@Microsoft.KeyVaultSecret", "@Microsoft.AppConfig"],
)
def test_a_real_secret_is_kept_stripped(value):
    assert not is_unresolved_reference(value)
    assert secret_setting({"S": f" {value} "}, "S") == value


def test_absent_and_blank_are_unset_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert secret_setting({}, "S") is None and secret_setting({"S": "  "}, "S") is None
        assert not is_unresolved_reference(None)
    assert caplog.records == []


def test_one_warning_per_setting_naming_it_never_the_value(caplog):
    text = reference("case-decision-signing-key")
    env = {"CASE_DECISION_SIGNING_KEY": text, "GITHUB_TOKEN": reference("github-token")}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            assert secret_setting(env, "CASE_DECISION_SIGNING_KEY") is None
        assert report_unresolved(env) == ["CASE_DECISION_SIGNING_KEY", "GITHUB_TOKEN"]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "CASE_DECISION_SIGNING_KEY" in messages[0] and "did not resolve" in messages[0]
    assert "GITHUB_TOKEN" in messages[1] and secret_settings.REFERENCE_DOC in messages[1]
    assert "vault.azure.net" not in caplog.text and "SecretUri" not in caplog.text


def test_github_secret_and_token_are_unset():
    """Every GitHub delivery is then refused (tests/unit/shared/normalize/test_github.py) and the GitHub tool
    reports its missing token instead of sending the reference text as a bearer token."""
    env = {
        "GITHUB_WEBHOOK_SECRET": reference("github-webhook-secret"),
        "GITHUB_TOKEN": reference("github-token"),
    }
    settings = AppSettings.from_env(env)
    assert settings.github_webhook_secret is None and settings.github_token is None


def test_storage_connection_string_reference_is_unset_not_the_emulator():
    """With identity properties the identity connection is used; without, there is no connection at all
    (not ``UseDevelopmentStorage=true`` in Azure)."""
    ref = reference("storage-connection")
    with_identity = AppSettings.from_env(
        {"AzureWebJobsStorage": ref, "AzureWebJobsStorage__accountName": "st"}
    )
    assert with_identity.storage_connection == "" and resolve(with_identity).uses_identity
    alone = AppSettings.from_env({"AzureWebJobsStorage": ref})
    assert alone.storage_connection == ""
    with pytest.raises(StorageConnectionError, match="no storage connection"):
        resolve(alone)


def test_storage_client_secret_reference_is_left_out():
    settings = AppSettings.from_env(
        {
            "AzureWebJobsStorage__accountName": "st",
            "AzureWebJobsStorage__tenantId": "t",
            "AzureWebJobsStorage__clientId": "c",
            "AzureWebJobsStorage__clientSecret": reference("storage-client-secret"),
        }
    )
    assert "clientsecret" not in dict(settings.storage_identity)
    assert resolve(settings).credential_kind == "DefaultAzureCredential"


def test_model_api_keys_are_unset():
    """Azure OpenAI then uses Entra ID (DefaultAzureCredential); an OpenAI-compatible endpoint gets the
    placeholder, never the reference text."""
    azure = JudgmentSettings.from_env(
        {
            "CASE_JUDGMENT": "agent",
            "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
            "AZURE_OPENAI_DEPLOYMENT": "judge",
            "AZURE_OPENAI_API_KEY": reference("azure-openai-key"),
        }
    )
    assert azure.azure_api_key is None and "DefaultAzureCredential" in azure.describe()
    other = JudgmentSettings.from_env(
        {
            "CASE_JUDGMENT": "agent",
            "OPENAI_BASE_URL": "https://api.example.com/v1",
            "OPENAI_MODEL": "m",
            "OPENAI_API_KEY": reference("openai-key"),
        }
    )
    assert other.api_key is None and other.problem is None
