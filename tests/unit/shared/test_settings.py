"""shared.settings.settings(): read once, cached while the settings it reads stay the same, one error path."""

from __future__ import annotations

import logging

import pytest

from shared import settings as module
from shared.settings import AppSettings, SettingsError, settings


def test_settings_are_read_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same object comes back while the environment is unchanged; a changed setting is seen."""
    monkeypatch.setenv("CASE_EVENTS_QUEUE", "q-one")
    first = settings()
    assert first.events_queue == "q-one" and settings() is first and AppSettings.current() is first
    monkeypatch.setenv("CASE_EVENTS_QUEUE", "q-two")
    assert settings().events_queue == "q-two"
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert settings() is settings()


def test_an_invalid_setting_is_the_one_error(monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A bad value raises SettingsError naming the setting, logged without the other values."""
    monkeypatch.setenv("CASE_MAX_EVENT_BYTES", "lots")
    monkeypatch.setenv("GITHUB_TOKEN", "secret-token-value")
    with caplog.at_level(logging.ERROR, logger=module.__name__), pytest.raises(SettingsError) as err:
        settings()
    assert err.value.name == "CASE_MAX_EVENT_BYTES"
    assert "CASE_MAX_EVENT_BYTES" in caplog.text and "secret-token-value" not in caplog.text


def test_from_env_stays_usable() -> None:
    """Building from an explicit mapping works as before (no cache involved)."""
    assert AppSettings.from_env({"CASE_EVENTS_QUEUE": "x"}).events_queue == "x"
