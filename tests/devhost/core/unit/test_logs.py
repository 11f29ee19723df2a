"""The calm console of ``python -m devhost start`` and its log file (issue 13, item 2)."""

from __future__ import annotations

import io
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.logs import LOG_FILE_NAME, configure_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def emit_story() -> None:
    """What a run logs: the host, an invocation, a JSON step line, a stage line, a retried failure."""
    logging.getLogger("Host.Startup").info("Host started: 3 function(s)")
    logging.getLogger("Function.apply_action").info("Executing 'Functions.apply_action' (Reason='x')")
    logging.getLogger("case_workflow.activities").info('{"schema": "case-run/1", "step": "applied"}')
    logging.getLogger("case.stage").info("case-1 order.cancel: completed")
    logging.getLogger("azure.core").info("Request URL: 'http://127.0.0.1:10001/'")
    try:
        raise ConnectionError("cannot reach the GitHub API\nsecond line")
    except ConnectionError:
        logging.getLogger("Function.apply_action").exception(
            "Executed 'Functions.apply_action' (Failed, Id=1, Duration=3ms)")


def test_calm_console_keeps_the_story_and_the_file_keeps_everything(tmp_path: Path, restore_root) -> None:
    """Calm: host and stage lines, the failure as one line pointing at the file; the file has all of it,
    traceback included."""
    out = io.StringIO()
    handlers, log_file = configure_logging({}, verbose=False, log_dir=tmp_path / "logs", stream=out)
    assert log_file == tmp_path / "logs" / LOG_FILE_NAME
    assert any(isinstance(h, logging.handlers.RotatingFileHandler) for h in handlers)
    emit_story()
    for handler in handlers:
        handler.flush()
    console = out.getvalue().splitlines()
    assert len(console) == 3, console
    assert console[0].endswith("Host started: 3 function(s)")
    assert console[1].endswith("case-1 order.cancel: completed")
    assert "(Failed" in console[2] and f"details in {log_file}" in console[2]
    assert "ConnectionError: cannot reach the GitHub API" in console[2]  # why, in the same line
    text = log_file.read_text()
    for needle in ("Executing 'Functions.apply_action'", '"step": "applied"', "Traceback", "ConnectionError",
                   "Request URL"):
        assert needle in text, needle


def test_a_failed_invocation_is_one_line_that_says_why(tmp_path: Path, restore_root) -> None:
    """The invoker's failure record (message, then ``Result: Failure`` / ``Exception: ...`` / ``Stack: ...``)
    is one console line carrying the exception line; the stack stays in the file."""
    out = io.StringIO()
    handlers, log_file = configure_logging({}, verbose=False, log_dir=tmp_path / "logs", stream=out)
    logging.getLogger("Function.flaky").error(
        "Executed 'Functions.flaky' (Failed, Id=1, Duration=2ms)\nResult: Failure\n"
        "Exception: TransientAdapterError: webhook: 503 from the receiver\nStack: Traceback ...\n  line 3")
    for handler in handlers:
        handler.flush()
    console = out.getvalue().splitlines()
    assert len(console) == 1, console
    assert console[0].endswith(f"(Failed, Id=1, Duration=2ms): TransientAdapterError: webhook: 503 from the "
                               f"receiver (details in {log_file})"), console
    assert "Stack: Traceback" in log_file.read_text()


def test_verbose_restores_everything(tmp_path: Path, restore_root) -> None:
    """--verbose: every record on the console, tracebacks too, in the func format."""
    out = io.StringIO()
    configure_logging({}, verbose=True, log_dir=tmp_path / "logs", stream=out)
    emit_story()
    text = out.getvalue()
    for needle in ("Executing 'Functions.apply_action'", '"step": "applied"', "Traceback", "second line"):
        assert needle in text, needle
