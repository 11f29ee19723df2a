"""Issue 5 audit gaps against the session's Azurite: a failed message is visible again only after
host.json ``visibilityTimeout`` (then succeeds on dequeue 2), trigger queues are created at start, blob
inputs bind as ``str`` and as ``func.InputStream``; and the poller's exponential backoff (pure)."""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import TextBase64EncodePolicy

from devhost.storage.queue_listener import Backoff
from devhost.testing import run_host, wait_for
from tests.devhost.storage.azurite.conftest import APPS
from tests.fixtures.azurite import AzuriteInstance

APP = APPS / "storage_visibility"


def test_backoff_grows_exponentially_caps_and_resets() -> None:
    """Empty polls back off from ~0.1 s, doubling with ±20 % jitter, up to maxPollingInterval; a message
    found resets the delay."""
    backoff = Backoff(2.0)
    delays = [backoff.next() for _ in range(10)]
    assert 0.1 < delays[0] < 0.25
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert delays[-1] == 2.0 and max(delays) == 2.0
    backoff.reset()
    assert backoff.next() < 0.25


@pytest.fixture
def storage(azurite: AzuriteInstance) -> dict[str, str]:
    keys = ("RETRY_QUEUE", "READ_QUEUE", "CONTAINER")
    names = {key: azurite.unique(key.split("_")[0].lower()) for key in keys}
    return {"AzureWebJobsStorage": azurite.connection_string, "FUNCTIONS_WORKER_RUNTIME": "python", **names}


def _blob(azurite: AzuriteInstance, container: str, name: str) -> str | None:
    try:
        blob = azurite.blob_service_client().get_blob_client(container, name)
        return blob.download_blob().readall().decode()
    except ResourceNotFoundError:
        return None


def _queue(azurite: AzuriteInstance, name: str):
    service = azurite.queue_service_client()
    return service.get_queue_client(name, message_encode_policy=TextBase64EncodePolicy())


@pytest.mark.azurite
def test_trigger_queues_are_created_at_start(azurite: AzuriteInstance, storage, tmp_path: Path) -> None:
    """Both trigger queues exist once the host has started, before any message was sent."""
    with run_host(APP, data_dir=tmp_path, settings=storage):
        for key in ("RETRY_QUEUE", "READ_QUEUE"):
            assert _queue(azurite, storage[key]).get_queue_properties().name == storage[key]


@pytest.mark.azurite
def test_failed_message_returns_after_the_visibility_timeout(
    azurite: AzuriteInstance, storage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """visibilityTimeout 00:00:02: the failed first delivery is retried no sooner than 2 s later (real
    time: Azurite owns visibility), as dequeue 2, and then succeeds."""
    caplog.set_level(logging.INFO, logger="Function.fails_once")
    with run_host(APP, data_dir=tmp_path, settings=storage):
        sent_at = time.time()
        sent = _queue(azurite, storage["RETRY_QUEUE"]).send_message("retry me")
        done = wait_for(lambda: _blob(azurite, storage["CONTAINER"], f"done/{sent.id}.json"), 20, 0.1,
                        "second delivery succeeded")
    record = json.loads(done)
    assert record["dequeue_count"] == 2
    assert record["at"] - sent_at >= 1.9
    executed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Executed 'Functions.")]
    assert [m.split(" (")[1].split(",")[0] for m in executed] == ["Failed", "Succeeded"]


@pytest.mark.azurite
def test_blob_input_as_str_and_input_stream(azurite: AzuriteInstance, storage, tmp_path: Path) -> None:
    """The same blob bound as ``str`` and as ``func.InputStream`` (name, length, read())."""
    container = azurite.blob_service_client().create_container(storage["CONTAINER"])
    container.upload_blob("in/note.txt", "grüße".encode())
    with run_host(APP, data_dir=tmp_path, settings=storage):
        _queue(azurite, storage["READ_QUEUE"]).send_message("note.txt")
        summary = wait_for(lambda: _blob(azurite, storage["CONTAINER"], "read/note.txt.json"), 15, 0.1)
    got = json.loads(summary)
    assert got["text"] == "grüße" and got["stream_text"] == "grüße"
    assert got["stream_length"] == len("grüße".encode())
    assert got["stream_name"].endswith("in/note.txt")
