"""A retried activity or sub-orchestration, as the history describes it (DTFx ``RetryInterceptor`` state).

:class:`~devhost.durable.runtime_state.RuntimeState` rebuilds one chain per ``call_*_with_retry`` action
from the history (devhost's ``_RetryOptions`` / ``_RetryOf`` bookkeeping keys): the first attempt's id,
the attempts so far, the current attempt and its retry timer. Delays follow DTFx: ``first × backoff^(n-1)``
ms, capped by ``maxRetryIntervalInMilliseconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RetryChain:
    """A retried activity or sub-orchestration (DTFx RetryInterceptor state, derived from history)."""

    first_id: int
    kind: int
    name: str
    input: str | None
    options: dict[str, Any]
    version: str | None = None
    instance_id: str | None = None
    attempts: int = 1
    current: int = -1
    timer: int | None = None

    def delay_ms(self) -> float:
        """``first × backoff^(attempt-1)`` ms, capped by ``maxRetryIntervalInMilliseconds`` (DTFx)."""
        first = float(self.options.get("firstRetryIntervalInMilliseconds") or 0)
        backoff = float(self.options.get("backoffCoefficient") or 1)
        delay = first * backoff ** (self.attempts - 1)
        cap = self.options.get("maxRetryIntervalInMilliseconds")
        return min(delay, float(cap)) if cap else delay

    @property
    def max_attempts(self) -> int:
        return int(self.options.get("maxNumberOfAttempts") or 1)
