"""Stopping one background asyncio task (a trigger listener's loop) with a grace period.

The timer and blob listeners stop the same way: set their stop flag, give the loop ``timeout_s`` seconds to
finish the run in progress, then cancel it (as a webjobs-sdk ``IListener.StopAsync`` is given the host's
shutdown timeout). The queue listener, which tracks each in-flight message, has its own stop.
"""

from __future__ import annotations

import asyncio
import contextlib


async def stop_task(task: asyncio.Task[None] | None, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` seconds for ``task`` to finish, then cancel it and wait for the cancellation.

    ``None`` (never started) returns at once. The task's own errors and its cancellation are swallowed:
    a listener logs its failures itself. The caller sets the task's stop flag first.
    """
    if task is None:
        return
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
