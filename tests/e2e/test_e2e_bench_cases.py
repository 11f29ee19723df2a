"""bench/cases.py still runs (``--smoke``: a few cases of each kind, tiny chain5 reference) and prints every
figure it promises; the figures themselves are not asserted (they depend on the machine's load), only that
the floor is computed from the storage requests an auto case really sends."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bench.measure import AUTO_CASE_REQUESTS
from tests.e2e.case_harness import REPO

pytestmark = [pytest.mark.azurite, pytest.mark.slow, pytest.mark.subprocess]

NUMBER = r"\d+(\.\d+)?"


def test_case_bench_smoke_prints_its_figures() -> None:
    """Ingress and received -> terminal percentiles, cases/s, case cost, history and storage per case."""
    result = subprocess.run([sys.executable, str(REPO / "bench" / "cases.py"), "--smoke"],
                            capture_output=True, text=True, timeout=240, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for pattern in (
        rf"== reference: chain5 one alone p50 {NUMBER} ms; {NUMBER} chain5 orch/s",
        rf"one at a time \(auto\): +p50 +{NUMBER} ms +p99 +{NUMBER} ms",
        rf"4 senders \(auto burst\): +p50 +{NUMBER} ms",
        rf"auto +p50 +{NUMBER} ms +p99 +{NUMBER} ms",
        rf"auto p50 / chain5 alone p50: {NUMBER}x",
        rf"auto cases/s at 4 senders: +{NUMBER}",
        rf"auto cases/s at 4 senders in another process: {NUMBER}",
        rf"4 senders in another process \(auto burst\): +p50 +{NUMBER} ms",
        rf"CPU per auto case \(senders in another process\): {NUMBER} ms in the host process",
        rf"case cost: {NUMBER} chain5 orchestrations per auto case",
        rf"case cost by CPU: {NUMBER} chain5 orchestrations",
        rf"auto +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}",
        rf"approved +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}",
        rf"storage requests per auto case: .*blob PUT {NUMBER}",
        r"history event types of one auto case: .*TaskScheduled \d+",
        rf"storage blob PUT +p50 +{NUMBER} ms +CPU +{NUMBER} ms client \+ +{NUMBER} ms Azurite",
        rf"received -> completed floor: {NUMBER} ms = chain5 alone",
        rf"case cost floor by CPU: {NUMBER} chain5 orchestrations",
        r"loadavg at end: ",
    ):
        assert re.search(pattern, out), f"{pattern!r} not in:\n{out}"
    # The floor is computed from the requests an auto case is taken to send: they must be what it sends.
    counted = re.search(r"storage requests per auto case: (.*)", out).group(1)
    sent = {kind: float(n) for kind, n in re.findall(r"(\w+ [A-Z]+) ([\d.]+)", counted)}
    assert sent == {kind: float(n) for kind, n in AUTO_CASE_REQUESTS.items()}, counted
