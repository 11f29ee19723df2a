"""Function-level retry policies (``@app.retry(...)`` and host.json root ``retry``).

Mirrors the host's in-memory retry loop (webjobs-sdk ``FunctionExecutorExtensions``,
``FixedDelayRetryAttribute`` / ``ExponentialBackoffRetryAttribute``; python-worker ``loader.py`` for the
decorator's settings; docs/host-behaviour.md#invocations):

* attempts = 1 + ``max_retry_count``; ``-1`` retries forever;
* fixed delay: ``delay_interval`` between attempts;
* exponential backoff: ``min + U[0.8, 1.2) × 2^(k−1) × min`` before retry ``k`` (1-based), capped at ``max``;
* a function-level policy overrides host.json's root ``retry``.

devhost applies retries to every trigger except HTTP and the durable triggers (the host warns that only
timer, Event Hubs, Kafka and Cosmos DB officially support them, but runs the loop for queues too).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from devhost.config import parse_timespan
from devhost.errors import ConfigError

NO_RETRY_TRIGGERS = frozenset({"httpTrigger", "orchestrationTrigger", "activityTrigger", "entityTrigger"})


@dataclass(frozen=True)
class RetryPolicy:
    """``strategy`` is ``fixed_delay`` or ``exponential_backoff``; ``max_retry_count`` −1 = forever."""

    strategy: str
    max_retry_count: int
    delay: timedelta = timedelta(0)
    minimum: timedelta = timedelta(0)
    maximum: timedelta = timedelta(0)

    def allows(self, retry_count: int) -> bool:
        """True when retry number ``retry_count`` (1-based) may run."""
        return self.max_retry_count < 0 or retry_count <= self.max_retry_count

    def delay_before(self, retry_count: int, rng: random.Random | None = None) -> timedelta:
        """The wait before retry ``retry_count`` (1-based)."""
        if self.strategy == "fixed_delay":
            return self.delay
        factor = (rng or random).uniform(0.8, 1.2) * 2 ** (retry_count - 1)
        return min(self.maximum, self.minimum + self.minimum * factor)


def _get(d: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if d.get(n) not in (None, ""):
            return d[n]
    return None


def parse_policy(raw: Mapping[str, Any]) -> RetryPolicy:
    """Build a policy from the decorator's settings (snake_case) or host.json (camelCase).

    Raises ConfigError for an unknown strategy or malformed count/intervals.
    """
    strategy = str(_get(raw, "strategy") or "").replace("Delay", "_delay").replace("Backoff", "_backoff")
    strategy = strategy.lower()
    if strategy not in ("fixed_delay", "exponential_backoff"):
        raise ConfigError(f"retry strategy {raw.get('strategy')!r} is not fixedDelay/exponentialBackoff")
    try:
        count = int(_get(raw, "max_retry_count", "maxRetryCount"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"retry maxRetryCount {raw!r} is not an integer") from exc

    def span(*names: str) -> timedelta:
        value = _get(raw, *names)
        return parse_timespan(str(value)) if value is not None else timedelta(0)

    policy = RetryPolicy(
        strategy,
        count,
        span("delay_interval", "delayInterval"),
        span("minimum_interval", "minimumInterval"),
        span("maximum_interval", "maximumInterval"),
    )
    if strategy == "exponential_backoff" and policy.maximum < policy.minimum:
        raise ConfigError("retry maximumInterval must not be below minimumInterval")
    return policy


def policy_for(
    trigger_type: str, settings: Mapping[str, Any], host_json: Mapping[str, Any]
) -> RetryPolicy | None:
    """The policy of a function: its ``retry_policy`` setting, else host.json ``retry``, else None.
    HTTP and durable triggers never retry here."""
    if trigger_type in NO_RETRY_TRIGGERS:
        return None
    raw = settings.get("retry_policy") or host_json.get("retry")
    return parse_policy(raw) if raw else None
