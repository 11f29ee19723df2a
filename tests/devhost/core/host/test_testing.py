"""The test helpers every suite uses: environment handling of run_host, wait_for, process control."""

import os
from pathlib import Path

import httpx
import pytest

from devhost.testing import run_host, start_subprocess, wait_for
from tests.devhost.fakes import FakeExtension
from tests.fixtures.paths import APPS


def test_settings_live_in_the_environment_only_while_the_host_runs(tmp_path: Path) -> None:
    """settings, local.settings Values and the func-start variables are visible to user code during the
    host's lifetime and gone afterwards."""
    assert "DEVHOST_HELPER_SETTING" not in os.environ
    with run_host(APPS / "http_basic", data_dir=tmp_path, settings={"GREETING": "Howdy",
                                                                      "DEVHOST_HELPER_SETTING": "1"}) as host:
        assert os.environ["DEVHOST_HELPER_SETTING"] == "1"
        assert os.environ["WEBSITE_HOSTNAME"] == f"localhost:{host.host.port}"
        assert os.environ["AZURE_FUNCTIONS_ENVIRONMENT"] == "Development"
        assert httpx.get(f"{host.base_url}/api/hello/x").text == "Howdy, x!"  # env wins over the file
    assert "DEVHOST_HELPER_SETTING" not in os.environ and "GREETING" not in os.environ


def test_disabled_functions_are_listed_as_disabled(tmp_path: Path) -> None:
    """AzureWebJobs.<name>.Disabled=true: 'Function <name> is disabled.' and isDisabled in metadata."""
    settings = {"AzureWebJobs.tick.Disabled": "true", "AzureWebJobs_quiet_Disabled": "1"}
    with run_host(APPS / "http_mixed", data_dir=tmp_path, extensions=[FakeExtension()],
                  settings=settings) as host:
        text = host.host.function_list_text()
        assert "Function tick is disabled." in text and "Function quiet is disabled." in text
        assert "\tworker: queueTrigger" in text
        meta = httpx.get(f"{host.base_url}/admin/functions/tick").json()
        assert meta["isDisabled"] is True


def test_wait_for_returns_the_value_or_times_out() -> None:
    """wait_for returns the first truthy value; otherwise TimeoutError names the condition."""
    values = iter([0, None, "ready"])
    assert wait_for(lambda: next(values), 1, 0.001) == "ready"
    with pytest.raises(TimeoutError, match="never true not met"):
        wait_for(lambda: False, 0.05, 0.01, message="never true")


@pytest.mark.subprocess
def test_kill_is_not_graceful(tmp_path: Path) -> None:
    """kill() sends SIGKILL: a negative exit code, no drain."""
    proc = start_subprocess(APPS / "http_timeout", data_dir=tmp_path)
    proc.wait_ready(30)
    assert proc.kill() == -9
    assert "Host stopped" not in proc.stdout_text()
