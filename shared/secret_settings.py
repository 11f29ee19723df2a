"""Secret app settings: an unresolved Key Vault reference counts as NOT SET, never as the secret.

In Azure the app's secrets are Key Vault references (``infra/main.bicep``:
``@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>)``). App Service resolves them
into the environment; when it cannot (the secret is missing or disabled, the app's identity lacks *Key Vault
Secrets User*, the vault is unreachable) the setting's value is the reference text itself: "If a reference
isn't resolved properly, the reference string is used instead"
(https://learn.microsoft.com/azure/app-service/app-service-key-vault-references, troubleshooting). That text
is not secret: anyone who knows the vault URL and the secret's name could compute an HMAC with it (seal
approval decisions, sign GitHub deliveries, mint console form tokens). So every secret the app reads goes
through :func:`secret_setting`, which returns ``None`` for such a value and the caller takes its existing
"not set" path (decisions refused, GitHub deliveries refused, the per-process form key, keys unset).

A value is an unresolved reference when, stripped of surrounding whitespace, it starts with
``@Microsoft.KeyVault(`` (case-insensitive). A warning naming the setting is logged once per setting name
and process; no setting value is ever logged (the reference text is not secret, but the rule stays simple).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

#: Lower-case start of an App Service Key Vault reference (the documented syntax is ``@Microsoft.KeyVault(``).
KEY_VAULT_REFERENCE_PREFIX = "@microsoft.keyvault("
#: The secret app settings the app code reads (all through :func:`secret_setting`); the start-up report
#: (:func:`report_unresolved`) checks these. ``AzureWebJobsStorage`` may carry an account key,
#: ``AzureWebJobsStorage__clientSecret`` a service principal's secret.
SECRET_SETTINGS = (
    "CASE_DECISION_SIGNING_KEY",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_TOKEN",
    "CASE_CONSOLE_FORM_KEY",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_KEY",
    "AzureWebJobsStorage",
    "AzureWebJobsStorage__clientSecret",
)
REFERENCE_DOC = "https://learn.microsoft.com/azure/app-service/app-service-key-vault-references"

logger = logging.getLogger("case_workflow.secrets")
_warned: set[str] = set()
_warned_lock = threading.Lock()


def is_unresolved_reference(value: str | None) -> bool:
    """True when ``value`` (an app setting's value, None when absent) is Key Vault reference text, i.e. App
    Service did not resolve the reference: stripped, it starts with ``@Microsoft.KeyVault(`` in any case.
    A resolved secret never looks like that (the platform substitutes the secret's value)."""
    return value is not None and value.strip().lower().startswith(KEY_VAULT_REFERENCE_PREFIX)


def secret_setting(environ: Mapping[str, str], name: str) -> str | None:
    """The secret app setting ``name`` from ``environ``, stripped; ``None`` when it is absent, empty or an
    unresolved Key Vault reference (:func:`is_unresolved_reference`). In the last case a WARNING naming the
    setting (never its value) is logged the first time per setting name in this process. Never raises."""
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    if is_unresolved_reference(value):
        _warn_once(name)
        return None
    return value.strip()


def report_unresolved(environ: Mapping[str, str], names: Iterable[str] = SECRET_SETTINGS) -> list[str]:
    """Warn (once per name, as :func:`secret_setting` does) about each of ``names`` whose value in
    ``environ`` is an unresolved Key Vault reference, and return those names. Called at start-up by
    ``function_app.py`` so the log says so before the first request needs the secret."""
    found = [name for name in names if is_unresolved_reference(environ.get(name))]
    for name in found:
        _warn_once(name)
    return found


def _warn_once(name: str) -> None:
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    logger.warning(
        "app setting %s is a Key Vault reference that did not resolve (App Service passed the reference "
        "text instead of the secret); the app treats %s as not set. Check the reference's status "
        "(portal: Environment variables, or az webapp config appsettings list) and %s",
        name,
        name,
        REFERENCE_DOC,
    )


def forget_warnings() -> None:
    """Forget which settings were warned about, so the next unresolved read warns again (for tests)."""
    with _warned_lock:
        _warned.clear()
