"""devhost and its Azurite (issue 10 item 10): AzureWebJobsStorage always counts, the Azurite devhost
started is supervised (restarted when it dies), and a stale one left by a killed devhost is cleaned at
start through its pidfile instead of being reused silently."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devhost.storage.azurite import PIDFILE, AzuriteEndpoints, AzuriteProcess, ensure_azurite, is_answering
from devhost.testing import run_host, wait_for

pytestmark = pytest.mark.azurite

APPS = Path(__file__).resolve().parents[3] / "apps"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def loopback_endpoints() -> AzuriteEndpoints:
    blob, queue, table = free_ports(3)
    return AzuriteEndpoints(
        f"http://127.0.0.1:{blob}", f"http://127.0.0.1:{queue}", f"http://127.0.0.1:{table}"
    )


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_azurewebjobsstorage_alone_gets_an_azurite(tmp_path: Path) -> None:
    """An app without any storage binding (HTTP only) whose AzureWebJobsStorage points at loopback: devhost
    starts Azurite there (the app may use it from its own code), and stops it with the host."""
    endpoints = loopback_endpoints()
    assert not is_answering(endpoints.queue)
    with run_host(APPS / "http_basic", data_dir=tmp_path, settings={
        "AzureWebJobsStorage": endpoints.connection_string,
    }):
        assert is_answering(endpoints.queue) and is_answering(endpoints.blob)
        assert (tmp_path / "azurite" / PIDFILE).exists()
    assert not is_answering(endpoints.queue)
    assert not (tmp_path / "azurite" / PIDFILE).exists()


def test_supervised_azurite_is_restarted_after_kill_9(tmp_path: Path, caplog) -> None:
    """Azurite killed with -9 under supervision comes back on the same ports, logged; stop() ends it for
    good (no restart after a deliberate stop)."""
    caplog.set_level(logging.INFO, logger="devhost.storage.azurite")
    proc = AzuriteProcess(location=tmp_path / "azurite", ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = proc.start()  # OS-chosen ports: no race with other processes picking ports
    proc.supervise()
    try:
        first = proc.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: proc.pid not in (None, first)
            and is_answering(endpoints.queue, 0.5)
            and "Azurite restarted" in caplog.text,
            60,
            message="Azurite restarted",
        )
        assert proc.endpoints == endpoints
        assert "exited with code" in caplog.text and "Azurite restarted" in caplog.text
        record = json.loads((tmp_path / "azurite" / PIDFILE).read_text())
        assert record["pid"] == proc.pid and record["devhost_pid"] == os.getpid()
    finally:
        proc.stop()
    assert not is_answering(endpoints.queue)
    assert proc.pid is None


def test_stale_azurite_of_a_killed_devhost_is_stopped_and_replaced(tmp_path: Path, caplog) -> None:
    """A pidfile naming a live Azurite whose devhost is gone (kill -9): the next start stops that orphan and
    starts its own, instead of reusing the orphan forever."""
    caplog.set_level(logging.INFO, logger="devhost.storage.azurite")
    location = tmp_path / "azurite"
    orphan = AzuriteProcess(location=location, ports={"blob": 0, "queue": 0, "table": 0})
    endpoints = orphan.start()  # OS-chosen ports; the replacement binds the same ones once it is gone
    orphan_pid = orphan.pid
    record = json.loads((location / PIDFILE).read_text())
    (location / PIDFILE).write_text(json.dumps({**record, "devhost_pid": dead_pid()}))
    fresh = None
    try:
        fresh = ensure_azurite(endpoints, location=location)
        assert fresh is not None and fresh.pid != orphan_pid
        assert "stale Azurite" in caplog.text
        assert is_answering(endpoints.queue)
    finally:
        if fresh is not None:
            fresh.stop()
        orphan.stop()
