"""The operator CLI (``python -m devhost instances|show|raise|terminate|purge``) against a running devhost."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.devhost.durable.host_http.durable_api_helpers import start, wait_status

REPO = Path(__file__).resolve().parents[4]
FINISHED = {"Completed", "Failed", "Terminated"}


def devhost_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would (``python -m devhost``; the durable module alone before the core CLI
    exists)."""
    module = "devhost" if importlib.util.find_spec("devhost.__main__") else "devhost.durable.cli"
    child_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=child_env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_not_running_is_one_clear_line() -> None:
    """Nothing listening → exit 1 and a one-line error naming the URL."""
    url = f"http://127.0.0.1:{_free_port()}"
    result = devhost_cli("instances", "--url", url)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: devhost is not running at {url} "
                                     "(start it with: python -m devhost start)")


def test_instances_and_show(http: httpx.Client, host: Any) -> None:
    """instances lists with filters (URL from DEVHOST_URL); show prints status and a history timeline."""
    iid = start(http, "hello_sequence", f"cli-{os.getpid()}")
    wait_status(http, iid, FINISHED)
    result = devhost_cli("instances", "--status", "Completed", "--name", "hello_sequence",
                         env={"DEVHOST_URL": host.base_url})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["INSTANCE", "ID", "NAME", "STATUS", "STAGE", "CREATED", "UPDATED"]
    assert any(line.split()[:3] == [iid, "hello_sequence", "Completed"] for line in lines[1:])
    result = devhost_cli("instances", "--status", "Suspended", "--url", host.base_url)
    assert result.stdout.strip() == "no instances"
    bogus = devhost_cli("instances", "--status", "Bogus", "--url", host.base_url)
    assert bogus.returncode == 1 and "unknown runtime status 'Bogus'" in bogus.stderr
    result = devhost_cli("show", iid, "--url", host.base_url)
    assert result.returncode == 0, result.stderr
    assert f"instance:      {iid}" in result.stdout
    assert "status:        Completed" in result.stdout
    timeline = result.stdout.split("history:")[1]
    assert "ExecutionStarted  hello_sequence" in timeline
    assert 'TaskCompleted  say_hello  -> "Hello Tokyo!"' in timeline
    assert "ExecutionCompleted  Completed" in timeline
    missing = devhost_cli("show", "no-such-id", "--url", host.base_url)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no instance with ID 'no-such-id'"


def test_raise_terminate_purge(http: httpx.Client, host: Any) -> None:
    """raise completes a waiting instance; terminate ends another; purge deletes; errors exit 1."""
    url = ["--url", host.base_url]
    waiting = start(http, "wait_approval")
    wait_status(http, waiting, {"Running"})
    bad = devhost_cli("raise", waiting, "Approval", "{oops", *url)
    assert bad.returncode == 1 and "not valid JSON" in bad.stderr
    result = devhost_cli("raise", waiting, "Approval", '{"ok": true}', *url)
    assert result.returncode == 0, result.stderr
    assert wait_status(http, waiting, FINISHED)["output"] == {"approval": {"ok": True}}
    other = start(http, "wait_approval")
    assert devhost_cli("terminate", other, "--reason", "ops said so", *url).returncode == 0
    assert wait_status(http, other, FINISHED)["output"] == "ops said so"
    again = devhost_cli("terminate", other, *url)
    assert again.returncode == 1 and "already finished" in again.stderr
    assert devhost_cli("purge", other, *url).returncode == 0
    assert http.get(f"/runtime/webhooks/durabletask/instances/{other}").status_code == 404
    gone = devhost_cli("purge", other, *url)
    assert gone.returncode == 1 and gone.stderr.strip() == f"error: no instance with ID '{other}'"


def test_stage_column_reads_the_custom_status() -> None:
    """The STAGE cell is the custom status's ``stage`` (object or JSON text), ``-`` otherwise."""
    from devhost.durable.cli import stage_of

    assert stage_of({"customStatus": {"stage": "awaiting_approval"}}) == "awaiting_approval"
    assert stage_of({"customStatus": '{"stage": "completed"}'}) == "completed"
    assert stage_of({"customStatus": "plain text"}) == "-"
    assert stage_of({}) == "-"
