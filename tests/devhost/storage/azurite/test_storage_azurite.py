"""devhost starts Azurite itself when a storage connection points at loopback endpoints where nothing
answers, keeps its data under the data dir, and stops it with the host; clear errors otherwise."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from devhost.storage import azurite as azurite_module
from devhost.storage.azurite import AzuriteEndpoints, AzuriteProcess, is_answering
from devhost.storage.errors import AzuriteError
from devhost.testing import run_host, wait_for
from tests.devhost.storage.azurite.conftest import APPS

pytestmark = pytest.mark.azurite


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_host_starts_and_stops_azurite_when_nothing_answers(tmp_path: Path) -> None:
    """Loopback endpoints with nothing listening: devhost starts Azurite there (data in <data>/azurite),
    the queue trigger works against it, and the host stops it on exit."""
    blob, queue, table = free_ports(3)
    endpoints = AzuriteEndpoints(
        f"http://127.0.0.1:{blob}", f"http://127.0.0.1:{queue}", f"http://127.0.0.1:{table}"
    )
    assert not is_answering(endpoints.queue)
    settings = {
        "AzureWebJobsStorage": endpoints.connection_string,
        "PLAIN_QUEUE": "plain",
        "CONTAINER": "echoes",
    }
    with run_host(APPS / "storage_plain", data_dir=tmp_path, settings=settings):
        assert is_answering(endpoints.queue) and is_answering(endpoints.blob)
        sent = (
            QueueServiceClient.from_connection_string(endpoints.connection_string)
            .get_queue_client("plain")
            .send_message("hi")
        )
        blobs = BlobServiceClient.from_connection_string(endpoints.connection_string).get_container_client(
            "echoes"
        )
        wait_for(lambda: blobs.exists() and blobs.get_blob_client(f"echo/{sent.id}.txt").exists(), 10)
    assert (tmp_path / "azurite" / "__azurite_db_queue__.json").exists()
    assert not is_answering(endpoints.queue)


def test_running_azurite_is_used_as_is(azurite, tmp_path: Path) -> None:
    """When Azurite already answers, ensure_azurite starts nothing."""
    assert azurite_module.ensure_azurite(azurite.endpoints, location=tmp_path) is None


def test_missing_node_names_the_setup_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Node.js on PATH the error says to run `make run` / `npm ci`."""
    monkeypatch.setattr(azurite_module.shutil, "which", lambda name: None)
    with pytest.raises(AzuriteError, match="npm ci"):
        AzuriteProcess().start()


def test_missing_azurite_names_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With Node.js but no node_modules/.bin/azurite anywhere, the error names `npm ci`."""
    monkeypatch.setattr(azurite_module, "_REPO_ROOT", tmp_path)
    monkeypatch.setattr(
        azurite_module.shutil, "which", lambda name: "/usr/bin/node" if name == "node" else None
    )
    with pytest.raises(AzuriteError, match="npm ci"):
        azurite_module.find_azurite(tmp_path)
