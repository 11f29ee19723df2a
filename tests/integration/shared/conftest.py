"""Fixtures of the evidence tests: app settings pointing at the session's Azurite, with a fresh audit
container and ledger table per test (the emulator is shared)."""

from __future__ import annotations

import uuid

import pytest

from shared.settings import AppSettings


@pytest.fixture
def storage_settings(azurite) -> AppSettings:
    """AppSettings on the session Azurite with this test's own container and table names."""
    suffix = uuid.uuid4().hex[:10]
    return AppSettings(
        storage_connection=azurite.connection_string,
        audit_container=f"audit-{suffix}",
        ledger_table=f"ledger{suffix}",
        events_queue=f"events-{suffix}",
        http_timeout_s=5.0,
    )
