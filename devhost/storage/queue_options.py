"""host.json ``extensions.queues`` read once into :class:`QueueOptions`, with the host's defaults under
``func start`` (Development): azure-sdk-for-net ``Storage.Common/src/Shared/Queues/QueuesOptions.cs``
and https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json .
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from devhost.config import parse_timespan
from devhost.errors import ConfigError
from devhost.storage.names import message_encoding

RECEIVE_VISIBILITY_S = 600  # the listener receives with a fixed 10-minute visibility (not visibilityTimeout)
RENEW_EVERY_S = 300  # and renews it every 5 minutes while the function runs


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float):  # v1-style milliseconds
        return float(value) / 1000.0
    return parse_timespan(str(value)) / timedelta(seconds=1)


@dataclass(frozen=True)
class QueueOptions:
    """Queue trigger settings. Durations in seconds (float)."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval_s: float = 2.0
    visibility_timeout_s: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, options: Mapping[str, Any], cpu_count: int | None = None) -> QueueOptions:
        """Build from ``extensions.queues``. ``maxPollingInterval`` defaults to 2 s (the Development value
        ``func start`` uses); ``newBatchThreshold`` to ``batchSize // 2 × processors``.

        Raises ConfigError for out-of-range values.
        """
        try:
            batch = int(options.get("batchSize", 16))
            cpus = cpu_count or os.cpu_count() or 1
            threshold = int(options.get("newBatchThreshold", (batch // 2) * cpus))
            max_poll = _seconds(options.get("maxPollingInterval"), 2.0)
            visibility = _seconds(options.get("visibilityTimeout"), 0.0)
            max_dequeue = int(options.get("maxDequeueCount", 5))
            encoding = message_encoding(options)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"host.json extensions.queues: {exc}") from exc
        if not 1 <= batch <= 32:
            raise ConfigError(f"host.json extensions.queues.batchSize must be 1-32, not {batch}")
        if threshold < 0 or max_dequeue < 1 or max_poll < 0.1:
            raise ConfigError(
                "host.json extensions.queues: newBatchThreshold >= 0, maxDequeueCount >= 1 and "
                "maxPollingInterval >= 00:00:00.1 are required"
            )
        return cls(batch, threshold, max_poll, visibility, max_dequeue, encoding)
