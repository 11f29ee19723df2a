"""Function-level retry policies: parsing, delays, and the retry loop on the virtual clock."""

import logging
import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.errors import ConfigError
from devhost.functions.interfaces import FunctionInvocationError
from devhost.functions.retry import RetryPolicy, parse_policy, policy_for
from devhost.testing import run_host
from tests.devhost.fakes import FakeExtension
from tests.fixtures.paths import APPS


def test_decorator_and_host_json_forms_parse_alike() -> None:
    """snake_case decorator settings and camelCase host.json give the same policy."""
    a = parse_policy({"strategy": "fixed_delay", "max_retry_count": "3", "delay_interval": "00:00:10"})
    b = parse_policy({"strategy": "fixedDelay", "maxRetryCount": 3, "delayInterval": "00:00:10"})
    assert a == b == RetryPolicy("fixed_delay", 3, timedelta(seconds=10))


def test_bad_policies_are_config_errors() -> None:
    """Unknown strategies and non-integer counts are refused."""
    with pytest.raises(ConfigError, match="strategy"):
        parse_policy({"strategy": "linear", "max_retry_count": "1"})
    with pytest.raises(ConfigError, match="not an integer"):
        parse_policy({"strategy": "fixed_delay", "max_retry_count": "many"})


def test_exponential_delays_grow_and_are_capped() -> None:
    """min + U[0.8,1.2) × 2^(k−1) × min, never above max."""
    policy = parse_policy({"strategy": "exponentialBackoff", "maxRetryCount": -1,
                           "minimumInterval": "00:00:02", "maximumInterval": "00:00:30"})
    rng = random.Random(7)
    first = policy.delay_before(1, rng)
    assert timedelta(seconds=2 + 1.6) <= first < timedelta(seconds=2 + 2.4)
    assert policy.delay_before(10, rng) == timedelta(seconds=30)
    assert policy.allows(1000)


def test_function_policy_overrides_host_json_and_http_never_retries() -> None:
    """The decorator wins over host.json; HTTP and durable triggers get no policy."""
    host_json = {"retry": {"strategy": "fixedDelay", "maxRetryCount": 1, "delayInterval": "00:00:01"}}
    own = {"retry_policy": {"strategy": "fixed_delay", "max_retry_count": "4", "delay_interval": "00:00:02"}}
    assert policy_for("queueTrigger", own, host_json).max_retry_count == 4
    assert policy_for("timerTrigger", {}, host_json).max_retry_count == 1
    assert policy_for("httpTrigger", own, host_json) is None
    assert policy_for("activityTrigger", own, host_json) is None
    assert policy_for("queueTrigger", {}, {}) is None


def test_retry_loop_on_the_virtual_clock(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A failing attempt is retried after the delay (skipped by the virtual clock) with retry_count 1."""
    with run_host(APPS / "http_mixed", data_dir=tmp_path, clock="virtual",
                  extensions=[FakeExtension()]) as host, caplog.at_level(logging.INFO, logger="Function"):
        attempts = sys.modules["function_app"].ATTEMPTS
        function = host.host.function("flaky")
        start = host.clock.now()
        host.call(host.host.invoker.invoke(function, {"msg": "once"}))
        assert attempts == [0, 1]
        assert host.clock.now() - start >= timedelta(seconds=30)
        attempts.clear()
        with pytest.raises(FunctionInvocationError, match="attempt 2 failed"):
            host.call(host.host.invoker.invoke(function, {"msg": "always"}))
        assert attempts == [0, 1, 2]
    messages = [r.getMessage() for r in caplog.records]
    assert ("Waiting for `00:00:30` before retrying function execution. Next attempt: '1'. "
            "Max retry count: '2'.") in messages
    assert "Function execution failed after '2' retries." in messages
