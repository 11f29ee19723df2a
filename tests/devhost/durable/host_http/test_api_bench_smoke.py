"""The benchmarks still run (tiny sizes), so they cannot rot; figures are not asserted."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("devhost.durable.extension") is None,
                                reason="devhost.durable.extension is not there yet")


def _bench(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True,
                            text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_throughput_bench_prints_the_ratio_line() -> None:
    """bench/throughput.py ends with the ratio line for both workloads."""
    out = _bench("throughput.py", "--chain", "3", "--fanout", "5")
    assert re.fullmatch(r"devhost/in-memory ratio: chain5 \d+\.\d\d fanout200 \d+\.\d\d",
                        out.strip().splitlines()[-1])
    assert "in-memory" in out and "devhost" in out


def test_waiting_bench_prints_memory_and_latency() -> None:
    """bench/waiting.py prints resident memory and the raise -> completed percentiles."""
    out = _bench("waiting.py", "--instances", "5")
    assert re.search(r"resident memory: \d+\.\d MB with 5 waiting", out)
    assert re.search(r"raise -> completed: p50 \d+\.\d\d ms  p99 \d+\.\d\d ms", out)
