"""Which judgment the activities use, and where the model is: app settings read once at the edge.

``CASE_JUDGMENT`` = ``rules`` (default) | ``agent``. With ``agent`` the endpoint is either

* Azure OpenAI: ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_DEPLOYMENT``, ``AZURE_OPENAI_API_VERSION``;
  authenticated with ``azure.identity.DefaultAzureCredential`` (managed identity in Azure) unless
  ``AZURE_OPENAI_API_KEY`` is set; or
* any OpenAI-compatible Chat Completions endpoint (Foundry Local, Ollama, vLLM, OpenAI):
  ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` (optional for local servers), ``OPENAI_MODEL``.

Azure wins when ``AZURE_OPENAI_ENDPOINT`` is set. :meth:`JudgmentSettings.from_env` never raises: a
misconfiguration is kept in ``problem`` so the app reports it once at start (:func:`startup_report`,
called by ``function_app.py``) and every judgment step falls back to the rules with that reason. Keys are
excluded from ``repr`` and never logged; a key that is an unresolved Key Vault reference counts as unset
(``shared.secret_settings``: Entra ID for Azure OpenAI, the placeholder for other endpoints).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.secret_settings import secret_setting

JUDGMENT_SETTING = "CASE_JUDGMENT"
#: Azure OpenAI API version used when AZURE_OPENAI_API_VERSION is unset (a GA Chat Completions version).
DEFAULT_AZURE_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class JudgmentSettings:
    """The judgment selection (app setting names in brackets).

    Attributes:
        mode: ``rules`` or ``agent`` [CASE_JUDGMENT].
        endpoint: ``azure`` or ``openai`` when ``mode`` is agent and the endpoint is complete, else None.
        azure_endpoint: Azure OpenAI resource URL [AZURE_OPENAI_ENDPOINT].
        azure_deployment: deployment name, sent as the model [AZURE_OPENAI_DEPLOYMENT].
        azure_api_version: [AZURE_OPENAI_API_VERSION], default :data:`DEFAULT_AZURE_API_VERSION`.
        azure_api_key: [AZURE_OPENAI_API_KEY]; None (unset or an unresolved Key Vault reference) means
            ``DefaultAzureCredential``. Never logged.
        base_url: OpenAI-compatible base URL, e.g. ``http://127.0.0.1:11434/v1`` [OPENAI_BASE_URL].
        api_key: [OPENAI_API_KEY]; a placeholder is sent when unset or an unresolved Key Vault reference
            (local servers ignore it). Never logged.
        model: model name [OPENAI_MODEL].
        problem: why the agent cannot be used (None when it can, or when ``mode`` is rules).
    """

    mode: Literal["rules", "agent"] = "rules"
    endpoint: Literal["azure", "openai"] | None = None
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    azure_api_version: str = DEFAULT_AZURE_API_VERSION
    azure_api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    problem: str | None = None

    @property
    def model_id(self) -> str | None:
        """The model or deployment id recorded with each judgment."""
        return self.azure_deployment if self.endpoint == "azure" else self.model

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JudgmentSettings:
        """Read the settings from ``environ`` (default ``os.environ``); empty values count as unset.

        Never raises: an unknown ``CASE_JUDGMENT`` or an incomplete endpoint sets ``problem``."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name)
            return None if value is None or not value.strip() else value.strip()

        raw_mode = (text(JUDGMENT_SETTING) or "rules").lower()
        if raw_mode == "rules":
            return cls()
        if raw_mode != "agent":
            return cls(
                mode="agent",
                problem=f"app setting {JUDGMENT_SETTING}={raw_mode!r} is neither 'rules' nor 'agent'",
            )
        azure_endpoint = text("AZURE_OPENAI_ENDPOINT")
        if azure_endpoint:
            deployment = text("AZURE_OPENAI_DEPLOYMENT")
            problem = (
                None if deployment else "AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_DEPLOYMENT is not"
            )
            if not azure_endpoint.lower().startswith(("https://", "http://")):
                problem = "AZURE_OPENAI_ENDPOINT must be an http(s) URL"
            return cls(
                mode="agent",
                endpoint=None if problem else "azure",
                azure_endpoint=azure_endpoint,
                azure_deployment=deployment,
                azure_api_version=text("AZURE_OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
                azure_api_key=secret_setting(env, "AZURE_OPENAI_API_KEY"),
                problem=problem,
            )
        base_url, model = text("OPENAI_BASE_URL"), text("OPENAI_MODEL")
        missing = [n for n, v in (("OPENAI_BASE_URL", base_url), ("OPENAI_MODEL", model)) if not v]
        problem = None
        if missing:
            problem = (
                f"{JUDGMENT_SETTING}=agent needs AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT, or "
                f"OPENAI_BASE_URL + OPENAI_MODEL; missing: {', '.join(missing)}"
            )
        elif base_url and not base_url.lower().startswith(("https://", "http://")):
            problem = "OPENAI_BASE_URL must be an http(s) URL"
        return cls(
            mode="agent",
            endpoint=None if problem else "openai",
            base_url=base_url,
            api_key=secret_setting(env, "OPENAI_API_KEY"),
            model=model,
            problem=problem,
        )

    def describe(self) -> str:
        """One line for the start-up log: mode, endpoint kind, URL and model (never a key)."""
        if self.mode == "rules":
            return "judgment: rules"
        if self.problem:
            return f"judgment: agent MISCONFIGURED ({self.problem}); every judgment step falls back to rules"
        if self.endpoint == "azure":
            auth = "API key" if self.azure_api_key else "DefaultAzureCredential"
            return (
                f"judgment: agent via Azure OpenAI {self.azure_endpoint} deployment {self.azure_deployment} "
                f"(api-version {self.azure_api_version}, {auth})"
            )
        return f"judgment: agent via Chat Completions at {self.base_url} model {self.model}"


def startup_report(logger: logging.Logger, environ: Mapping[str, str] | None = None) -> JudgmentSettings:
    """Log the judgment selection once (an ERROR when the agent is selected but misconfigured) and
    return the settings. Called at import of ``function_app.py``."""
    settings = JudgmentSettings.from_env(environ)
    logger.log(logging.ERROR if settings.problem else logging.INFO, settings.describe())
    return settings
