"""The invoker: bindings through extensions, context injection, return-value rule, logs, pool size."""

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.config import HostConfig
from devhost.functions.context import InvocationContext
from devhost.functions.interfaces import FunctionInvocationError
from devhost.functions.invoke import format_timespan, thread_pool_size
from devhost.testing import HostThread, run_host
from tests.devhost.fakes import FakeExtension
from tests.fixtures.paths import APPS


@pytest.fixture(scope="module")
def fake() -> FakeExtension:
    return FakeExtension(blobs={"config/job.txt": "job-config"})


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, fake: FakeExtension) -> Iterator[HostThread]:
    with run_host(APPS / "http_mixed", data_dir=tmp_path_factory.mktemp("inv"), extensions=[fake]) as host:
        yield host


def invoke(host: HostThread, name: str, args: dict, meta: dict | None = None, **kw):
    function = host.host.function(name)
    assert function is not None and host.host.invoker is not None
    return host.call(host.host.invoker.invoke(function, args, meta, **kw))


def test_input_resolved_and_output_written_after_success(mixed: HostThread, fake: FakeExtension) -> None:
    """The blob input comes from the owning extension using trigger metadata; func.Out is written."""
    result = invoke(mixed, "worker", {"msg": "job"}, {"queueTrigger": "job"})
    assert result.outputs == {"out": "job|job-config"}
    assert ("worker", "results", "job|job-config") in fake.writes


def test_unset_output_is_not_written(mixed: HostThread, fake: FakeExtension) -> None:
    """An Out left unset is skipped."""
    before = len(fake.writes)
    result = invoke(mixed, "worker", {"msg": "skip"}, {"queueTrigger": "skip"})
    assert result.outputs == {} and len(fake.writes) == before


def test_return_value_goes_to_return_binding(mixed: HostThread, fake: FakeExtension) -> None:
    """A $return queue output receives the return value."""
    result = invoke(mixed, "forward", {"msg": "abc"})
    assert result.return_value == "ABC"
    assert fake.writes[-1] == ("forward", "forwarded", "ABC")


def test_non_none_return_without_return_binding_fails(mixed: HostThread, fake: FakeExtension) -> None:
    """Returning a value without $return fails the invocation (python-worker dispatcher)."""
    before = len(fake.writes)
    with pytest.raises(FunctionInvocationError, match=r"without a \$return binding returned a non-None"):
        invoke(mixed, "returns_value", {"msg": "x"})
    assert len(fake.writes) == before


def test_activity_may_return_and_gets_a_context(mixed: HostThread) -> None:
    """Durable triggers are exempt from the $return rule; ``context`` gets func.Context."""
    result = invoke(mixed, "echo_activity", {"payload": "p"})
    assert result.return_value == {"payload": "p", "context_type": InvocationContext.__name__}


def test_context_given_in_args_is_not_replaced(mixed: HostThread) -> None:
    """When args already hold ``context`` (the durable orchestrator wrapper), it is passed as is."""
    result = invoke(mixed, "echo_activity", {"payload": "p", "context": "the payload"})
    assert result.return_value["context_type"] == "str"


def test_exception_is_wrapped_with_its_cause(mixed: HostThread) -> None:
    """A user exception surfaces as FunctionInvocationError carrying the original exception."""
    with pytest.raises(FunctionInvocationError) as info:
        invoke(mixed, "worker", {"msg": "job"}, {"queueTrigger": "job"}, invocation_id="fixed-id",
               check_return=lambda f, v, o: (_ for _ in ()).throw(RuntimeError("bad output")))
    assert info.value.invocation_id == "fixed-id" and isinstance(info.value.cause, RuntimeError)
    assert str(info.value) == "RuntimeError: bad output"


def test_log_lines_and_levels(mixed: HostThread, caplog: pytest.LogCaptureFixture) -> None:
    """Executing/Executed lines carry reason and id; host.json Function.quiet: Warning hides them."""
    with caplog.at_level(logging.DEBUG, logger="Function"):
        invoke(mixed, "forward", {"msg": "a"}, reason="New queue message detected on 'forward'.",
               trigger_details="MessageId: 1, DequeueCount: 1", invocation_id="id-1")
        invoke(mixed, "quiet", {"payload": "x"})
    messages = [r.getMessage() for r in caplog.records]
    reason = "New queue message detected on 'forward'."
    assert f"Executing 'Functions.forward' (Reason='{reason}', Id=id-1)" in messages
    assert "Trigger Details: MessageId: 1, DequeueCount: 1" in messages
    assert any(m.startswith("Executed 'Functions.forward' (Succeeded, Id=id-1, Duration=") for m in messages)
    assert not any("Functions.quiet" in m for m in messages)


def test_unregistered_binding_type_warns_at_start_and_fails_invocation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without an extension for queue bindings the host starts with a warning; invoking fails."""
    with caplog.at_level(logging.WARNING), run_host(APPS / "http_mixed", data_dir=tmp_path,
                                                     extensions=[]) as host:
        assert any("The binding type(s) 'blob, queue, queueTrigger' are not registered" in r.getMessage()
                   for r in caplog.records)
        with pytest.raises(FunctionInvocationError, match="'blob' are not registered"):
            invoke(host, "worker", {"msg": "x"})


def test_thread_pool_size_setting(tmp_path: Path) -> None:
    """PYTHON_THREADPOOL_THREAD_COUNT sets the pool size; otherwise min(32, cpu + 4)."""
    settings = {"PYTHON_THREADPOOL_THREAD_COUNT": "3"}
    assert thread_pool_size(HostConfig(tmp_path, tmp_path, settings=settings)) == 3
    default = thread_pool_size(HostConfig(tmp_path, tmp_path, settings={}))
    assert 5 <= default <= 32


def test_format_timespan() -> None:
    """.NET TimeSpan "c" format used in the timeout message."""
    assert format_timespan(timedelta(seconds=1)) == "00:00:01"
    assert format_timespan(timedelta(minutes=30)) == "00:30:00"
    assert format_timespan(timedelta(days=1, seconds=5)) == "1.00:00:05"
    assert format_timespan(timedelta(seconds=1.5)) == "00:00:01.5000000"
