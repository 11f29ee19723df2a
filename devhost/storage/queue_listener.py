"""Queue trigger listener: poll one queue, run the function per message, delete / release / poison.

Mirrors azure-sdk-for-net ``Storage.Common/src/Shared/Queues/QueueListener.cs`` and ``QueueProcessor.cs``
(docs/host-behaviour.md#queue-trigger-and-output):

- receive up to ``batchSize`` messages with a fixed 10-minute visibility; messages found → one task per
  message, wait until in-flight ≤ ``newBatchThreshold``, poll again at once; nothing found → randomised
  exponential backoff from 100 ms up to ``maxPollingInterval``, woken early by :meth:`QueueListener.wake`
  (an output binding or poison move of this host wrote to the queue);
- per message: not valid base64 (in base64 mode) → copied verbatim to ``<queue>-poison`` without
  invoking; ``dequeueCount > maxDequeueCount`` → poison without invoking; success → delete; failure →
  poison when ``dequeueCount >= maxDequeueCount``, else visible again after ``visibilityTimeout``;
- visibility is renewed every 5 minutes while the function runs.

Clocks: what the poller waits for happens in *real* time (messages arriving in Azurite, Azurite's
visibility timeouts expiring), so backoff delays and visibility renewals are real-time waits (a
:class:`~devhost.clock.SystemClock`), also when the host runs a virtual clock. Were they virtual sleeps,
an idle :class:`~devhost.clock.VirtualClock` could only ever jump to the poller's next deadline (≤
``maxPollingInterval`` away), and skipping a 3-day durable timer would take hours of 2-second steps.
The host clock is still held busy (:meth:`Clock.busy`) while a batch is received and while each message
is processed, so virtual time never jumps in the middle of handling a message. Under a virtual clock a
failed message therefore reappears after ``visibilityTimeout`` of real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as WorkerQueueMessage

from devhost.clock import SystemClock
from devhost.extension import HostServices
from devhost.functions.interfaces import FunctionInfo, FunctionInvocationError
from devhost.storage.clients import StorageClients
from devhost.storage.expressions import trigger_data
from devhost.storage.names import decode_body, poison_queue_name
from devhost.storage.params import annotation_of, wants
from devhost.storage.queue_options import RECEIVE_VISIBILITY_S, RENEW_EVERY_S, QueueOptions
from devhost.storage.queue_output import QueueSender


class Backoff:
    """Randomised exponential delays (s): ``0.1 + U[0.8,1.2) × 2^(k−1) × 0.1`` for the k-th empty poll,
    stuck at ``maximum_s`` once reached (webjobs ``RandomizedExponentialBackoffStrategy``)."""

    def __init__(self, maximum_s: float, minimum_s: float = 0.1) -> None:
        self.minimum_s, self.maximum_s, self.k = minimum_s, maximum_s, 0
        self._capped = False

    def reset(self) -> None:
        """Back to the minimum delay (a message was found)."""
        self.k, self._capped = 0, False

    def next(self) -> float:
        """The next delay in seconds: exponential from the minimum with ±20% jitter, capped at the maximum
        and staying there until :meth:`reset` (a jittered draw below the cap never follows the cap)."""
        if self._capped:
            return self.maximum_s
        self.k += 1
        delay = self.minimum_s + random.uniform(0.8, 1.2) * (2 ** (self.k - 1)) * self.minimum_s
        if delay >= self.maximum_s:
            self._capped = True
            return self.maximum_s
        return delay


def queue_trigger_metadata(msg: Any, text: str) -> dict[str, Any]:
    """The host's binding data for a queue message (``QueueTrigger``, ``Id``, ``DequeueCount``, times
    as ISO 8601 UTC strings, ``PopReceipt``) plus the top-level properties of a JSON body."""
    meta = {
        "QueueTrigger": text,
        "Id": msg.id,
        "DequeueCount": msg.dequeue_count,
        "InsertionTime": msg.inserted_on.isoformat() if msg.inserted_on else None,
        "ExpirationTime": msg.expires_on.isoformat() if msg.expires_on else None,
        "NextVisibleTime": msg.next_visible_on.isoformat() if msg.next_visible_on else None,
        "PopReceipt": msg.pop_receipt,
    }
    return trigger_data(meta, text)


def queue_trigger_value(function: FunctionInfo, param: str, msg: Any, body: bytes) -> Any:
    """``str`` / ``bytes`` / ``func.QueueMessage`` by the parameter's annotation (the worker's
    ``QueueMessageInConverter``; text is strict UTF-8, UnicodeDecodeError otherwise)."""
    ann = annotation_of(function, param)
    text = body.decode("utf-8")
    if wants(ann, str):
        return text
    if wants(ann, bytes):
        return body
    return WorkerQueueMessage(
        id=msg.id,
        body=body,
        dequeue_count=msg.dequeue_count,
        expiration_time=msg.expires_on,
        insertion_time=msg.inserted_on,
        time_next_visible=msg.next_visible_on,
        pop_receipt=msg.pop_receipt,
    )


class QueueListener:
    """Polls ``queue`` for ``function``; ``start()`` creates the queue and starts the poll task."""

    def __init__(
        self,
        function: FunctionInfo,
        queue: str,
        connection: str | None,
        options: QueueOptions,
        clients: StorageClients,
        sender: QueueSender,
        services: HostServices,
    ) -> None:
        self.function, self.queue, self.connection, self.options = function, queue, connection, options
        self.clients, self.sender, self.services = clients, sender, services
        self.clock = services.clock
        self._real = SystemClock()  # poll and renewal waits: Azurite's time is real (module docstring)
        self.log = logging.getLogger(f"devhost.storage.queue.{function.name}")
        self.param = str(function.trigger["name"])
        self.poison = poison_queue_name(queue)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        """Create the queue if needed and start the polling loop. Raises AzureError when Azurite is
        unreachable."""
        await self.clients.ensure_queue(self.connection, self.queue)
        self._task = asyncio.create_task(self._run(), name=f"queue-listener-{self.function.name}")

    def wake(self) -> None:
        """Poll now (a message was written to the queue by this host)."""
        self._wake.set()

    async def stop(self, timeout_s: float) -> None:
        """Stop polling; let in-flight messages finish for ``timeout_s`` seconds, then cancel them."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=timeout_s)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)

    # -- polling ---------------------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = Backoff(self.options.max_polling_interval_s)
        client = self.clients.queue(self.connection, self.queue)
        while not self._stopping:
            self._wake.clear()
            try:
                with self.clock.busy():
                    messages = await self._receive(client)
                    for msg in messages:
                        task = asyncio.create_task(self._process(client, msg))
                        self._in_flight.add(task)
                        task.add_done_callback(self._done)
            except ResourceNotFoundError:
                messages = []
                with contextlib.suppress(AzureError):
                    await self.clients.queue(self.connection, self.queue).create_queue()
            except AzureError as exc:
                self.log.warning("Polling queue '%s' failed: %s", self.queue, exc)
                messages = []
            if messages:
                backoff.reset()
                while len(self._in_flight) > self.options.new_batch_threshold:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                continue
            await self._real.sleep(backoff.next(), self._wake)

    async def _receive(self, client: Any) -> list[Any]:
        pager = client.receive_messages(
            messages_per_page=self.options.batch_size, visibility_timeout=RECEIVE_VISIBILITY_S
        )
        async for page in pager.by_page():
            return [m async for m in page]
        return []

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Processing a message of queue '%s' failed", self.queue, exc_info=task.exception())

    # -- one message -------------------------------------------------------------------------------------
    async def _process(self, client: Any, msg: Any) -> None:
        with self.clock.busy():
            try:
                body = decode_body(msg.content or "", self.options.message_encoding)
            except ValueError:
                why = ("it is not valid base64 (set extensions.queues.messageEncoding to none for plain-text "
                       "messages)")
                await self._to_poison(client, msg, msg.content or "", raw=True, why=why)
                return
            if msg.dequeue_count > self.options.max_dequeue_count:
                await self._to_poison(client, msg, body)
                return
        ok = await self._invoke(client, msg, body)
        with self.clock.busy():
            if ok:
                await self._ignore_stale(client.delete_message(msg.id, msg.pop_receipt))
            elif msg.dequeue_count >= self.options.max_dequeue_count:
                await self._to_poison(client, msg, body)
            else:
                await self._ignore_stale(
                    client.update_message(
                        msg.id, msg.pop_receipt, visibility_timeout=int(self.options.visibility_timeout_s)
                    )
                )

    async def _invoke(self, client: Any, msg: Any, body: bytes) -> bool:
        renew = asyncio.create_task(self._renew(client, msg))
        try:
            value = queue_trigger_value(self.function, self.param, msg, body)
            meta = queue_trigger_metadata(msg, body.decode("utf-8"))
            inserted = msg.inserted_on.isoformat() if msg.inserted_on else ""
            await self.services.invoker.invoke(
                self.function,
                {self.param: value},
                meta,
                reason=f"New queue message detected on '{self.queue}'.",
                trigger_details=(
                    f"MessageId: {msg.id}, DequeueCount: {msg.dequeue_count}, InsertedOn: {inserted}"
                ),
            )
            return True
        except FunctionInvocationError:
            return False  # the invoker has logged the failure
        except Exception as exc:  # binding failure: bad UTF-8, binding expression, connection ...
            self.log.error(
                "Function '%s' failed to bind queue message '%s': %s", self.function.name, msg.id, exc
            )
            return False
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew

    async def _renew(self, client: Any, msg: Any) -> None:
        while True:
            await self._real.sleep(RENEW_EVERY_S)
            with contextlib.suppress(AzureError):
                updated = await client.update_message(
                    msg.id, msg.pop_receipt, visibility_timeout=RECEIVE_VISIBILITY_S
                )
                msg.pop_receipt = updated.pop_receipt

    async def _to_poison(
        self, client: Any, msg: Any, body: bytes | str, *, raw: bool = False, why: str | None = None
    ) -> None:
        """Copy ``body`` to the poison queue and delete ``msg``. ``why`` replaces the host's
        MaxDequeueCount line when the message is poisoned for another reason (bad base64)."""
        if self.poison is None:
            self.log.warning(
                "Message '%s' failed and queue '%s' has no poison queue; leaving it.", msg.id, self.queue
            )
            return
        if why is None:
            self.log.warning(
                "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                self.options.max_dequeue_count,
                self.poison,
            )
        else:
            self.log.warning(
                "Message '%s' on queue '%s' is poisoned without invoking because %s. Moving message to "
                "queue '%s'.", msg.id, self.queue, why, self.poison,
            )
        await self.sender.send(self.connection, self.poison, [body], raw=raw)
        await self._ignore_stale(client.delete_message(msg.id, msg.pop_receipt))

    async def _ignore_stale(self, call: Any) -> None:
        """Await a delete/update; pop-receipt mismatch or a vanished message is not an error
        (docs/host-behaviour.md#queue-trigger-and-output)."""
        try:
            await call
        except (ResourceNotFoundError, HttpResponseError) as exc:
            self.log.debug("Ignoring %s on queue '%s'", exc.__class__.__name__, self.queue)

    # -- admin ---------------------------------------------------------------------------------------------
    async def admin_invoke(self, input_text: str) -> None:
        """Run the function once with ``input_text`` as the message body (``POST /admin/functions``)."""
        now = self.clock.now()
        msg = _AdminMessage(str(uuid.uuid4()), now, now + timedelta(days=7), 1, input_text, "", now)
        body = input_text.encode("utf-8")
        value = queue_trigger_value(self.function, self.param, msg, body)
        await self.services.invoker.invoke(
            self.function, {self.param: value}, queue_trigger_metadata(msg, input_text)
        )


class _AdminMessage:
    """The fields of an SDK ``QueueMessage`` for an admin invocation (nothing is received)."""

    def __init__(self, id, inserted_on, expires_on, dequeue_count, content, pop_receipt, next_visible_on):
        self.id, self.inserted_on, self.expires_on = id, inserted_on, expires_on
        self.dequeue_count, self.content, self.pop_receipt = dequeue_count, content, pop_receipt
        self.next_visible_on = next_visible_on
