"""Issue 10 item 6: a flood of slow requests to one route cannot stall another function: each function has
its own thread pool (a per-function concurrency limit), so ``health`` answers while every thread of
``slow`` is held."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from devhost.testing import run_host, wait_for
from tests.fixtures.paths import APPS


def test_health_answers_while_a_flood_holds_every_thread_of_a_slow_route(tmp_path: Path) -> None:
    """3 × the pool size of requests to ``slow`` (which block until released): while all are in flight
    and the slow route's pool is saturated, ``health`` answers; then the flood drains."""
    release = tmp_path / "release"
    pool_size = 4
    settings = {"RELEASE_FILE": str(release), "PYTHON_THREADPOOL_THREAD_COUNT": str(pool_size)}
    with run_host(APPS / "http_flood", data_dir=tmp_path / "data", settings=settings) as host:
        answers: list[int] = []
        lock = threading.Lock()

        def call() -> None:
            r = httpx.get(f"{host.base_url}/api/slow", timeout=120)
            with lock:
                answers.append(r.status_code)

        flood = [threading.Thread(target=call) for _ in range(3 * pool_size)]
        for t in flood:
            t.start()
        invoker = host.host.invoker
        wait_for(lambda: invoker.in_flight >= pool_size, 60, message="the slow route's pool is saturated")
        health = httpx.get(f"{host.base_url}/api/health", timeout=60)
        assert health.status_code == 200 and health.text == "ok"
        assert not answers, "health answered while the flood was still held"
        release.write_text("go")
        for t in flood:
            t.join(120)
        assert answers == [200] * (3 * pool_size)
