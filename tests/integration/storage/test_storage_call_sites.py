"""Storage call sites (issue 10 item 6): the request path fails fast (one try, short timeouts) with
StorageUnavailable; activities retry a bounded number of times; clients are built once per process."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from shared import audit, storage
from shared.settings import AppSettings


class BlackHole:
    """A TCP server that accepts connections and never answers; counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


def settings_at(port: int) -> AppSettings:
    url = f"http://127.0.0.1:{port}/devstoreaccount1"
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={storage.DEV_ACCOUNT_KEY};BlobEndpoint={url};QueueEndpoint={url};TableEndpoint={url};"
    )
    return AppSettings(storage_connection=connection, audit_container="audit-blackhole")


def test_request_path_tries_once_and_raises_storage_unavailable(black_hole, monkeypatch):
    """A storage that accepts and never answers: on the request path one connection, no retry, and a
    StorageUnavailable naming the caller (the handler answers 503 with Retry-After). The read timeout is
    shortened to 0.5 s here (the behaviour under test is one try, not the 5 s wait)."""
    assert storage.REQUEST.retry_total == 0 and storage.REQUEST.read_timeout_s <= 5.0
    monkeypatch.setattr(storage, "REQUEST", dataclasses.replace(storage.REQUEST, read_timeout_s=0.5))
    with pytest.raises(storage.StorageUnavailable) as caught, storage.request_path("case audit"):
        audit.read_raw(settings_at(black_hole.port), "case-1")
    assert "case audit" in str(caught.value)
    assert len(black_hole.accepted) == 1


def test_activity_calls_retry_quickly_then_leave_the_outage_to_the_orchestrator(monkeypatch):
    """Storage refusing connections: an activity's call retries ``ACTIVITY.retry_total`` times, waiting
    ``backoff_s`` before each retry on blob and queue (at once, then 2 x ``backoff_s`` on table), then raises
    StorageUnavailable. The storage SDK's ExponentialRetry waited 2.5 s then 4.5 s here (7 s per call).
    The SDKs' sleeps are recorded instead of slept."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: every try is refused at once
    settings = settings_at(port)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    site = storage.ACTIVITY
    calls = {
        "blob": lambda: storage.container_client(settings, "c").upload_blob("x", b"1"),
        "queue": lambda: storage.queue_client(settings, "q").send_message("x"),
        "table": lambda: storage.table_client(settings, "t").get_entity("a", "b"),
    }
    waits = {"blob": [site.backoff_s] * site.retry_total, "queue": [site.backoff_s] * site.retry_total,
             "table": [site.backoff_s * 2 ** n for n in range(1, site.retry_total)]}
    for kind, call in calls.items():
        slept.clear()
        with pytest.raises(storage.StorageUnavailable), storage.storage_faults(kind):
            call()
        assert slept == waits[kind], kind


def test_clients_are_built_once_per_process_and_call_site():
    """The same settings give the same service client per call site; request and activity sites differ."""
    settings = settings_at(1)
    first = storage._service("blob", settings)
    assert storage._service("blob", settings) is first  # one pipeline (connection pool) per process
    with storage.request_path("x"):
        request_site = storage._service("blob", settings)
    assert request_site is not first
    assert storage._service("table", settings) is storage._service("table", settings)


def test_ids_with_characters_storage_rejects_are_refused_up_front():
    assert storage.is_safe_key("case-0123abcd") and storage.is_safe_key("restart:1@x.y")
    for bad in ("", "case\x00x", "a/b", "-lead", "x" * 257, "ok\n"):
        assert not storage.is_safe_key(bad), bad
