"""Blob trigger listener: scan one container, run the function once per new blob version.

A simplified form of the host's default ``LogsAndContainerScan`` strategy (azure-sdk-for-net Blobs
``Listeners/ScanBlobScanLogHybridPollingStrategy.cs``, ``BlobReceiptManager.cs``;
docs/host-behaviour.md#blob-trigger-and-bindings): the container is listed every ``scan_interval_s`` seconds
of real time (blobs live in Azurite's real
time, see ``queue_listener``); a blob whose path matches the trigger pattern and whose ETag has no
receipt yet is processed; success writes the receipt, so each blob version runs once. A failing blob is
retried on the next scans up to ``maxDequeueCount`` attempts, then a JSON message ``{FunctionId,
BlobType, ContainerName, BlobName, ETag}`` goes to queue ``webjobs-blobtrigger-poison``.

Differences from the host: receipts are a JSON file ``<data dir>/blobreceipts/<function>.json`` (not
blobs in ``azure-webjobs-hosts``), no dispatch queue, no Event Grid source; blobs present at the first scan
are processed too (as the host does for blobs without receipts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError

from devhost.clock import SystemClock
from devhost.extension import HostServices
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError
from devhost.storage.blobs import split_path
from devhost.storage.clients import StorageClients
from devhost.storage.params import annotation_of, wants
from devhost.storage.queue_output import QueueSender
from devhost.storage.tasks import stop_task

POISON_QUEUE = "webjobs-blobtrigger-poison"


def path_pattern(blob_pattern: str) -> re.Pattern[str]:
    """``{name}.txt`` → a regex whose named groups capture binding data (``name``), matched in full."""
    out, pos = [], 0
    for m in re.finditer(r"\{([^{}]+)\}", blob_pattern):
        out.append(re.escape(blob_pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+?)")
        pos = m.end()
    out.append(re.escape(blob_pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


class BlobListener:
    """Watches ``container`` for blobs matching ``pattern`` for ``function``."""

    def __init__(
        self,
        function: FunctionInfo,
        path: str,
        clients: StorageClients,
        sender: QueueSender,
        services: HostServices,
        *,
        max_attempts: int = 5,
        scan_interval_s: float = 2.0,
    ) -> None:
        self.function, self.clients, self.sender, self.services = function, clients, sender, services
        self.container, blob_pattern = split_path(path)
        self.pattern = path_pattern(blob_pattern)
        self.connection = function.trigger.get("connection")
        self.param = str(function.trigger["name"])
        self.max_attempts, self.scan_interval_s = max_attempts, scan_interval_s
        self.log = logging.getLogger(f"devhost.storage.blob.{function.name}")
        self.receipts_path = services.config.data_dir / "blobreceipts" / f"{function.name}.json"
        self.receipts: dict[str, str] = self._load()
        self.attempts: dict[tuple[str, str], int] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Create the container if needed and start the scan loop. Raises AzureError when Azurite is
        unreachable."""
        await self.clients.ensure_container(self.connection, self.container)
        self._task = asyncio.create_task(self._run(), name=f"blob-listener-{self.function.name}")

    async def stop(self, timeout_s: float) -> None:
        """Stop scanning; a blob being processed gets ``timeout_s`` seconds."""
        self._stop.set()
        await stop_task(self._task, timeout_s)

    async def _run(self) -> None:
        real = SystemClock()
        while not self._stop.is_set():
            try:
                await self.scan()
            except AzureError as exc:
                self.log.warning("Scanning container '%s' failed: %s", self.container, exc)
            await real.sleep(self.scan_interval_s, self._stop)

    async def scan(self) -> int:
        """One pass over the container; returns how many blobs were processed (run or poisoned)."""
        container = self.clients.blob_service(self.connection).get_container_client(self.container)
        todo = []
        async for blob in container.list_blobs():
            m = self.pattern.match(blob.name)
            if m and self.receipts.get(blob.name) != blob.etag:
                todo.append((blob, m.groupdict()))
        for blob, captured in todo:
            if self._stop.is_set():
                break
            await self._process(container, blob, captured)
        return len(todo)

    async def _process(self, container: Any, blob: Any, captured: dict[str, str]) -> None:
        key = (blob.name, blob.etag)
        attempt = self.attempts.get(key, 0) + 1
        if attempt > self.max_attempts:
            await self.sender.send(
                self.connection,
                POISON_QUEUE,
                [
                    json.dumps(
                        {
                            "FunctionId": f"Host.Functions.{self.function.name}",
                            "BlobType": "BlockBlob",
                            "ContainerName": self.container,
                            "BlobName": blob.name,
                            "ETag": blob.etag,
                        }
                    )
                ],
            )
            self.log.warning(
                "Blob '%s/%s' failed %d times; message sent to '%s'.",
                self.container,
                blob.name,
                self.max_attempts,
                POISON_QUEUE,
            )
            self._receipt(blob.name, blob.etag)
            return
        self.attempts[key] = attempt
        client = container.get_blob_client(blob.name)
        with self.services.clock.busy():
            data = await (await client.download_blob()).readall()
            full = f"{self.container}/{blob.name}"
            meta = {
                **captured,
                "BlobTrigger": full,
                "Uri": client.url,
                "Properties": {"ETag": blob.etag, "Length": blob.size},
                "Metadata": dict(blob.metadata or {}),
            }
            ann = annotation_of(self.function, self.param)
            value: Any
            if wants(ann, str):
                value = data.decode("utf-8")
            elif wants(ann, bytes):
                value = data
            else:
                value = func.blob.InputStream(
                    data=data,
                    name=full,
                    uri=client.url,
                    length=len(data),
                    blob_properties={"ETag": blob.etag, "Length": blob.size},
                    metadata=dict(blob.metadata or {}),
                )
            try:
                await self.services.invoker.invoke(
                    self.function,
                    {self.param: value},
                    meta,
                    reason=f"New blob detected({self.container}): {full}",
                )
            except FunctionInvocationError:
                return  # retried on the next scan
        self.attempts.pop(key, None)
        self._receipt(blob.name, blob.etag)

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.receipts_path.read_text(encoding="utf-8"))
            return {str(k): str(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _receipt(self, name: str, etag: str) -> None:
        self.receipts[name] = etag
        path: Path = self.receipts_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.receipts, indent=2), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            self.log.warning("Could not write blob receipts %s: %s", path, exc)
