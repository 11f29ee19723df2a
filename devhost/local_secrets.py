"""Secrets devhost generates for the app it runs, one per data dir, when the app settings lack them.

An app that fails closed without a signing key (the case workflow refuses every approval decision without
``CASE_DECISION_SIGNING_KEY``) should still run locally with no set-up. When such a setting is absent
(neither in the environment nor in ``local.settings.json``), devhost creates a random value
(``secrets.token_urlsafe(48)``: 64 characters, 384 bits), keeps it in ``<data dir>/secrets/<NAME>`` (mode
0600, so restarts and every process sharing the data dir agree) and exports it into the environment the
app reads its settings from. A value set by the user always wins; with ``WEBSITE_INSTANCE_ID`` set (an
Azure environment, or a test emulating one) nothing is generated, as in Azure.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path

#: App settings devhost fills in per data dir when they are missing.
GENERATED_SETTINGS = ("CASE_DECISION_SIGNING_KEY",)

log = logging.getLogger("devhost.secrets")


def ensure_local_secrets(data_dir: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Fill each missing :data:`GENERATED_SETTINGS` entry of ``environ`` from ``data_dir`` (creating it
    once). Returns the names filled in. Raises OSError when the data dir cannot be written."""
    filled: list[str] = []
    if (environ.get("WEBSITE_INSTANCE_ID") or "").strip():  # emulating Azure: nothing is made up
        return filled
    for name in GENERATED_SETTINGS:
        if (environ.get(name) or "").strip():
            continue
        folder = data_dir / "secrets"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            log.info("generated app setting %s for this data dir (kept in %s)", name, path)
        environ[name] = path.read_text().strip()
        filled.append(name)
    return filled
