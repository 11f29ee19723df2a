"""BusinessEvent validation, case instance ids and app settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.contracts import BusinessEvent, case_instance_id
from shared.settings import AppSettings, SettingsError


def make(**overrides) -> BusinessEvent:
    fields = {
        "event_id": "e-1",
        "source": "/erp",
        "type": "payment.release",
        "requester": "alice",
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
        "format": "plain",
        "channel": "http",
    }
    fields.update(overrides)
    return BusinessEvent(**fields)


def test_occurred_at_is_normalized_to_utc():
    """An offset timestamp is converted to UTC; a naive one is taken as UTC."""
    cet = timezone(timedelta(hours=1))

    assert make(occurred_at=datetime(2026, 1, 1, 13, tzinfo=cet)).occurred_at == datetime(
        2026, 1, 1, 12, tzinfo=UTC
    )
    assert make(occurred_at=datetime(2026, 1, 1, 12)).occurred_at.tzinfo == UTC


@pytest.mark.parametrize(
    "bad_type", ["payment", "Payment.Release", "payment..release", ".payment", "pay ment.x"]
)
def test_type_must_be_dotted_lower_case(bad_type):
    """Single-segment, upper-case or malformed types are refused."""
    with pytest.raises(ValidationError):
        make(type=bad_type)


def test_model_is_frozen_and_strict():
    """Fields cannot be reassigned and unknown fields are refused."""
    event = make()
    with pytest.raises(ValidationError):
        event.type = "order.cancel"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        make(extra_field=1)


def test_json_round_trip():
    """model_dump(mode='json') is what the orchestrator receives; it validates back to an equal event."""
    event = make(attributes={"amount": 10, "ok": True, "note": None}, data={"nested": {"a": [1]}})

    assert BusinessEvent.model_validate(event.model_dump(mode="json")) == event


def test_instance_id_depends_on_source_and_id_only():
    """Channel, format and content do not change the case id; source or id do."""
    base = make()

    assert case_instance_id(base) == case_instance_id(
        make(channel="queue", format="cloudevents", requester="b")
    )
    assert case_instance_id(base) != case_instance_id(make(source="/other"))
    assert case_instance_id(base) != case_instance_id(make(event_id="e-2"))
    assert re.fullmatch(r"case-[0-9a-f]{32}", case_instance_id(base))


def test_settings_defaults():
    """An empty environment gives the documented defaults."""
    settings = AppSettings.from_env({})

    assert settings.events_queue == "case-events"
    assert settings.notifications_queue == "case-notifications"
    assert settings.max_event_bytes == 262144
    assert settings.policy_path is None
    assert settings.github_api_url == "https://api.github.com"
    assert settings.retention_days == 30
    assert settings.storage_connection == "UseDevelopmentStorage=true"


def test_settings_read_values_and_treat_empty_as_unset():
    """Values are read from the mapping; empty strings count as unset."""
    settings = AppSettings.from_env(
        {
            "CASE_EVENTS_QUEUE": "ev",
            "CASE_MAX_EVENT_BYTES": "1000",
            "CASE_POLICY_PATH": "",
            "GITHUB_API_URL": "http://127.0.0.1:9/",
            "GITHUB_TOKEN": "",
            "CASE_RETENTION_DAYS": "7",
        }
    )

    assert (settings.events_queue, settings.max_event_bytes, settings.retention_days) == ("ev", 1000, 7)
    assert settings.policy_path is None and settings.github_token is None
    assert settings.github_api_url == "http://127.0.0.1:9"


def test_settings_repr_hides_secrets():
    """Secrets and the connection string never appear in repr (safe to log)."""
    settings = AppSettings.from_env(
        {
            "GITHUB_WEBHOOK_SECRET": "hook-secret-value",
            "GITHUB_TOKEN": "ghp_tokenvalue",
            "AzureWebJobsStorage": "AccountKey=storagekeyvalue",
        }
    )

    text = repr(settings)
    assert "hook-secret-value" not in text and "ghp_tokenvalue" not in text and "storagekeyvalue" not in text
    assert settings.github_webhook_secret == "hook-secret-value"


@pytest.mark.parametrize(("name", "value"), [("CASE_MAX_EVENT_BYTES", "big"), ("CASE_RETENTION_DAYS", "-1")])
def test_bad_numbers_name_the_setting(name, value):
    """A non-numeric or out-of-range number raises SettingsError naming the setting."""
    with pytest.raises(SettingsError) as caught:
        AppSettings.from_env({name: value})

    assert caught.value.name == name
