"""The eval bench's figures, shown at the end of the test run (``make test`` prints them).

The bench test stores its output lines on the pytest config as ``judgment_bench_lines``.
"""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = getattr(terminalreporter.config, "judgment_bench_lines", None)
    if lines:
        terminalreporter.section("judgment eval bench (tests/data/judgment_eval.jsonl)")
        for line in lines:
            terminalreporter.write_line(line)
