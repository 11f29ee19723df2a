"""Listener behaviour with a gated fake invoker: timer singleton/catch-up and queue batch concurrency."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.clock import SystemClock, VirtualClock
from devhost.config import HostConfig
from devhost.extension import HostServices
from devhost.functions.interfaces import FunctionInfo
from devhost.storage.clients import StorageClients
from devhost.storage.ncrontab import parse_schedule
from devhost.storage.queue_listener import QueueListener
from devhost.storage.queue_options import QueueOptions
from devhost.storage.queue_output import QueueSender
from devhost.storage.timer_listener import TimerListener
from tests.devhost.storage.azurite.fakes import GatedInvoker, eventually
from tests.fixtures.azurite import AzuriteInstance

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def function(trigger: dict) -> FunctionInfo:
    return FunctionInfo(
        name="fn",
        trigger=trigger,
        bindings=[trigger],
        handler=lambda **_: None,
        is_async=False,
        parameters=[trigger["name"]],
    )


def services(tmp_path: Path, clock, invoker: GatedInvoker, fn: FunctionInfo, settings=None) -> HostServices:
    config = HostConfig(app_dir=tmp_path, data_dir=tmp_path, settings=settings or {})
    return HostServices(config, clock, [fn], invoker, "http://127.0.0.1:1", logging.getLogger("test"))


def test_timer_never_overlaps_and_catches_up_once(tmp_path: Path) -> None:
    """While a run of a 2-second timer takes 10 s, no second run starts; afterwards exactly one catch-up
    run fires, then the schedule resumes from the current time."""

    async def scenario() -> None:
        clock = VirtualClock(T0, auto_advance=False)
        invoker = GatedInvoker()
        fn = function({"type": "timerTrigger", "name": "timer", "schedule": "*/2 * * * * *"})
        listener = TimerListener(
            fn, parse_schedule("*/2 * * * * *", UTC), services(tmp_path, clock, invoker, fn), tmp_path
        )
        await listener.start()
        await eventually(clock.next_deadline, message="timer armed")
        clock.advance(2)
        await eventually(lambda: len(invoker.calls) == 1)
        clock.advance(10)
        await asyncio.sleep(0.05)
        assert len(invoker.calls) == 1
        invoker.release()
        await eventually(lambda: len(invoker.calls) == 2, message="one catch-up run")
        invoker.release()
        await eventually(lambda: (clock.next_deadline() or T0) > clock.now(), message="re-armed")
        assert (len(invoker.calls), invoker.peak) == (2, 1)
        assert invoker.calls[0][0]["timer"].past_due is False
        await listener.stop(1)
        clock.close()

    asyncio.run(scenario())


@pytest.mark.azurite
def test_queue_batch_and_new_batch_threshold_bound_concurrency(
    azurite: AzuriteInstance, tmp_path: Path
) -> None:
    """batchSize 2, newBatchThreshold 1: two messages run at once; when one finishes the listener fetches
    the next batch (up to 3 in flight); all six complete and are deleted."""
    queue = azurite.unique("batch")

    async def scenario() -> None:
        invoker = GatedInvoker()
        fn = function({"type": "queueTrigger", "name": "msg", "queueName": queue})
        svc = services(
            tmp_path, SystemClock(), invoker, fn, {"AzureWebJobsStorage": azurite.connection_string}
        )
        clients = StorageClients(svc.config.settings)
        options = QueueOptions(
            batch_size=2, new_batch_threshold=1, max_polling_interval_s=0.2, message_encoding="none"
        )
        sender = QueueSender(clients, "none", lambda q: None)
        listener = QueueListener(fn, queue, None, options, clients, sender, svc)
        await sender.send(None, queue, [f"m{i}" for i in range(6)])  # all there before the first receive
        await listener.start()
        await eventually(lambda: len(invoker.calls) == 2, message="first batch")
        await asyncio.sleep(0.5)
        assert len(invoker.calls) == 2
        invoker.release(1)
        await eventually(lambda: len(invoker.calls) == 4, message="second batch")
        assert invoker.running == 3
        invoker.hold = False
        invoker.release()
        await eventually(lambda: len(invoker.calls) == 6 and invoker.running == 0, message="all done")
        assert sorted(c[0]["msg"].get_body().decode() for c in invoker.calls) == [f"m{i}" for i in range(6)]
        await listener.stop(1)
        peek = await clients.queue(None, queue).peek_messages(max_messages=32)
        assert list(peek) == []
        await clients.close()

    asyncio.run(scenario())
