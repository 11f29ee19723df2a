"""Queue trigger, queue output and blob bindings on a whole devhost against the session's Azurite."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

from devhost.testing import run_host, wait_for
from tests.devhost.storage.azurite.conftest import APPS, needs_durable
from tests.fixtures.azurite import AzuriteInstance

pytestmark = pytest.mark.azurite


def b64_queue(azurite: AzuriteInstance, name: str):
    """A queue client that sends and reads base64 like the host (the SDK default is raw text)."""
    return azurite.queue_service_client().get_queue_client(
        name, message_encode_policy=TextBase64EncodePolicy(), message_decode_policy=TextBase64DecodePolicy()
    )


def blob_text(azurite: AzuriteInstance, container: str, name: str) -> str | None:
    try:
        return (
            azurite.blob_service_client().get_blob_client(container, name).download_blob().readall().decode()
        )
    except ResourceNotFoundError:
        return None


def drain(queue, timeout_s: float = 10.0, count: int = 1) -> list[str]:
    """Receive (and delete) until ``count`` messages arrived; returns their contents."""
    got: list[str] = []

    def more() -> bool:
        try:
            for m in queue.receive_messages(max_messages=32):
                got.append(m.content)
                queue.delete_message(m)
        except ResourceNotFoundError:
            pass  # not created yet
        return len(got) >= count

    wait_for(more, timeout_s, 0.1, f"{count} message(s) on {queue.queue_name}")
    return got


def test_queue_message_runs_function_and_outputs_land(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """A base64 JSON message runs `orders`: its queue output (a JSON array → two messages) and its blob
    output at receipts/{id}.json land in Azurite, with QueueMessage fields filled in."""
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        b64_queue(azurite, names["ORDERS_QUEUE"]).send_message(json.dumps({"id": "case-42", "amount": 3}))
        out = drain(b64_queue(azurite, names["OUT_QUEUE"]), count=2)
        receipt = wait_for(lambda: blob_text(azurite, names["CONTAINER"], "receipts/case-42.json"), 10)
    assert sorted(out) == ["confirmed case-42", "dequeue 1"]
    data = json.loads(receipt)
    assert data["order"] == {"id": "case-42", "amount": 3}
    assert (data["dequeue_count"], data["pop_receipt"]) == (1, True)
    assert data["message_id"] and data["inserted"].endswith("+00:00")
    orders = azurite.queue_service_client().get_queue_client(names["ORDERS_QUEUE"])
    assert list(orders.peek_messages()) == []  # deleted after success


def test_blob_input_and_output_with_queue_trigger_expression(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """`{queueTrigger}` names the input blob and the output blob; a missing input blob binds None."""
    container = azurite.blob_service_client().create_container(names["CONTAINER"])
    container.upload_blob("in/doc1.txt", b"hello blob")
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        q = b64_queue(azurite, names["LOOKUP_QUEUE"])
        q.send_message("doc1.txt")
        q.send_message("nothing.txt")
        copied = wait_for(lambda: blob_text(azurite, names["CONTAINER"], "out/doc1.txt"), 10)
        missing = wait_for(lambda: blob_text(azurite, names["CONTAINER"], "out/nothing.txt"), 10)
    assert (copied, missing) == ("HELLO BLOB", "missing")


def test_failing_message_goes_to_poison_with_body_intact(
    azurite: AzuriteInstance, names, settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A message whose processing always raises is tried maxDequeueCount (3) times, then moved to
    <queue>-poison with the same body; the original queue is left empty."""
    body = json.dumps({"id": "bad", "note": "ünïcode"})
    caplog.set_level(logging.INFO, logger="Function.always_fails")
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        b64_queue(azurite, names["FAIL_QUEUE"]).send_message(body)
        poisoned = drain(b64_queue(azurite, names["FAIL_QUEUE"] + "-poison"), timeout_s=20)
    assert poisoned == [body]
    failed = [r for r in caplog.records if r.name == "Function.always_fails" and "(Failed" in r.getMessage()]
    assert len(failed) == 3
    assert list(azurite.queue_service_client().get_queue_client(names["FAIL_QUEUE"]).peek_messages()) == []


def test_invalid_base64_goes_to_poison_verbatim(
    azurite: AzuriteInstance, names, settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Under the default base64 encoding a raw-text message is not invoked but copied verbatim to poison;
    the log says why (not "MaxDequeueCount" on a first attempt)."""
    caplog.set_level(logging.WARNING, logger="devhost.storage")
    raw_client = azurite.queue_service_client().get_queue_client(names["ORDERS_QUEUE"])
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        raw_client.send_message("not base64 {json}!")
        poisoned = drain(azurite.queue_service_client().get_queue_client(names["ORDERS_QUEUE"] + "-poison"))
    assert poisoned == ["not base64 {json}!"]
    assert blob_text(azurite, names["CONTAINER"], "receipts/None.json") is None
    lines = [r.getMessage() for r in caplog.records if "poison" in r.getMessage().lower()]
    assert any("not valid base64" in line for line in lines), lines
    assert not any("MaxDequeueCount" in line for line in lines), lines


def test_message_encoding_none_takes_plain_text(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """With messageEncoding none the raw text (which is not base64) reaches the function as str."""
    with run_host(APPS / "storage_plain", data_dir=tmp_path, settings=settings):
        q = azurite.queue_service_client().get_queue_client(names["PLAIN_QUEUE"])
        sent = q.send_message("plain text, not base64!")
        echo = wait_for(lambda: blob_text(azurite, names["CONTAINER"], f"echo/{sent.id}.txt"), 10)
    assert echo == "plain text, not base64!"


def test_disabled_function_does_not_listen(azurite: AzuriteInstance, names, settings, tmp_path: Path) -> None:
    """`AzureWebJobs.orders.Disabled=true` keeps the orders message untouched while other functions run."""
    settings = {**settings, "AzureWebJobs.orders.Disabled": "true"}
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        orders = b64_queue(azurite, names["ORDERS_QUEUE"])
        orders.create_queue()  # a disabled function's listener never starts, so nobody creates its queue
        orders.send_message(json.dumps({"id": "x"}))
        b64_queue(azurite, names["LOOKUP_QUEUE"]).send_message("doc9.txt")
        wait_for(lambda: blob_text(azurite, names["CONTAINER"], "out/doc9.txt"), 10)
    peeked = list(azurite.queue_service_client().get_queue_client(names["ORDERS_QUEUE"]).peek_messages())
    assert [(m.dequeue_count, base64.b64decode(m.content)) for m in peeked] == [(0, b'{"id": "x"}')]


@needs_durable
def test_queue_message_starts_an_orchestration_each(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """Each message on the start queue starts one `greet` orchestration (durable client binding in a queue
    trigger) under the instance id the message names, and each completes."""
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings) as host:
        q = b64_queue(azurite, names["START_QUEUE"])
        for n in range(3):
            q.send_message(json.dumps({"instance": f"order-{n}", "n": n}))

        def statuses() -> dict[str, dict]:
            found = {}
            for n in range(3):
                r = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/order-{n}", timeout=5)
                if r.status_code == 200 and r.json()["runtimeStatus"] == "Completed":
                    found[f"order-{n}"] = r.json()
            return found if len(found) == 3 else {}

        done = wait_for(statuses, 30, 0.1, "three completed orchestrations")
    assert done["order-1"]["output"] == "hello {'instance': 'order-1', 'n': 1}"


def test_missing_connection_puts_only_that_function_in_error(
    names, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without AzureWebJobsStorage the queue function is reported in error with the host's message and
    the host still starts."""
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    with run_host(APPS / "storage_plain", data_dir=tmp_path, settings=names) as host:
        assert httpx.get(f"{host.base_url}/admin/host/status", timeout=5).status_code == 200
    errors = [
        r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "'plain'" in r.getMessage()
    ]
    assert errors == [
        "The 'plain' function is in error: Storage account connection string 'AzureWebJobsStorage' does not "
        "exist. Make sure that it is a defined App Setting."
    ]


def test_blob_trigger_runs_once_per_new_blob(
    azurite: AzuriteInstance, names, settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A blob matching `{name}.txt` runs `summarize` with a func.InputStream and `{name}` in the output
    path; a non-matching blob is ignored; an already processed blob is not run again on later scans."""
    caplog.set_level(logging.INFO, logger="Function.summarize")
    uploads = azurite.blob_service_client().get_container_client(names["UPLOADS"])
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        wait_for(uploads.exists, 10)
        uploads.upload_blob("a.txt", b"first")
        uploads.upload_blob("ignored.csv", b"x")
        first = wait_for(lambda: blob_text(azurite, names["CONTAINER"], "summaries/a.json"), 15)
        uploads.upload_blob("b.txt", b"second")
        wait_for(lambda: blob_text(azurite, names["CONTAINER"], "summaries/b.json"), 15)
    assert json.loads(first) == {"name": f"{names['UPLOADS']}/a.txt", "length": 5, "text": "first"}
    runs = [r for r in caplog.records if r.name == "Function.summarize" and "Executed" in r.getMessage()]
    assert len(runs) == 2
    receipts = json.loads((tmp_path / "blobreceipts" / "summarize.json").read_text())
    assert sorted(receipts) == ["a.txt", "b.txt"]  # ignored.csv never matched the pattern


def test_admin_invoke_runs_a_queue_function_with_the_input_as_body(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """POST /admin/functions/lookup {"input": "doc2.txt"} runs it once as if that message arrived
    (202), its bindings resolved from the input."""
    container = azurite.blob_service_client().create_container(names["CONTAINER"])
    container.upload_blob("in/doc2.txt", b"admin")
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings) as host:
        r = httpx.post(f"{host.base_url}/admin/functions/lookup", json={"input": "doc2.txt"}, timeout=5)
        copied = wait_for(lambda: blob_text(azurite, names["CONTAINER"], "out/doc2.txt"), 10)
    assert (r.status_code, copied) == (202, "ADMIN")


def test_invalid_utf8_is_a_binding_failure_that_ends_in_poison(
    azurite: AzuriteInstance, names, settings, tmp_path: Path
) -> None:
    """Valid base64 of bytes that are not UTF-8 fails binding on every attempt and lands in poison with
    the same wire text."""
    wire = base64.b64encode(b"\xff\xfe not utf-8").decode()
    with run_host(APPS / "storage_queue", data_dir=tmp_path, settings=settings):
        azurite.queue_service_client().get_queue_client(names["LOOKUP_QUEUE"]).send_message(wire)
        poisoned = drain(
            azurite.queue_service_client().get_queue_client(names["LOOKUP_QUEUE"] + "-poison"), 20
        )
    assert poisoned == [wire]
