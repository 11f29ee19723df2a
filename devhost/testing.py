"""Test helpers: run a whole devhost in-process (:func:`run_host`) or as a child process
(:func:`start_subprocess`), and poll for a condition (:func:`wait_for`).

In-process::

    from devhost.testing import run_host
    with run_host(app_dir, data_dir=tmp_path, clock="virtual", settings={"MY_SETTING": "x"}) as h:
        r = httpx.get(f"{h.base_url}/api/hello")
        h.clock.advance(3600)                     # a VirtualClock when clock="virtual*"
        h.call(some_coroutine())                  # run a coroutine on the host's event loop

Subprocess::

    proc = start_subprocess(app_dir, data_dir=tmp_path, clock="system", env={"X": "1"})
    try:
        proc.wait_ready(30); httpx.get(proc.base_url + "/admin/host/status")
    finally:
        proc.terminate()                          # SIGTERM, waits, returns the exit code

Both bind 127.0.0.1 on an ephemeral port (``port=0``) unless told otherwise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from devhost.clock import Clock, make_clock
from devhost.config import HostConfig
from devhost.host import Host

T = TypeVar("T")
LISTENING = re.compile(r"Listening on (http://127\.0\.0\.1:(\d+))")
REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.02,
             message: str = "condition") -> T:
    """Call ``predicate`` until it returns a truthy value (returned) or ``timeout_s`` passes
    (TimeoutError naming ``message``). Exceptions from the predicate propagate."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} not met within {timeout_s}s")
        time.sleep(interval_s)


class HostThread:
    """A :class:`~devhost.host.Host` running on its own event loop in a daemon thread.

    Prefer :func:`run_host`. ``settings`` are put into ``os.environ`` for the host's lifetime (user
    code reads app settings there) and the whole environment is restored on :meth:`stop`, including
    the Values merged from local.settings.json.
    """

    def __init__(self, app_dir: Path | str, *, data_dir: Path | str, clock: str | Clock = "system",
                 settings: Mapping[str, str] | None = None, port: int = 0,
                 drain_timeout_s: float = 10.0, **host_kwargs: Any) -> None:
        self.app_dir = Path(app_dir)
        self.data_dir = Path(data_dir)
        self._clock_arg = clock
        self.settings = dict(settings or {})
        self.port = port
        self.drain_timeout_s = drain_timeout_s
        self.host_kwargs = host_kwargs
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="devhost-host", daemon=True)
        self._saved_env: dict[str, str] | None = None
        self.host: Host | None = None

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self, timeout_s: float = 30.0) -> HostThread:
        """Load config and app, start the host; raises what :meth:`Host.start` raises."""
        self._saved_env = dict(os.environ)
        os.environ.update(self.settings)
        try:
            clock = self._clock_arg if isinstance(self._clock_arg, Clock) else make_clock(self._clock_arg)
            config = HostConfig.load(self.app_dir, data_dir=self.data_dir, port=self.port,
                                     clock=getattr(clock, "kind", "system"))
            self.host = Host(config, clock=clock, drain_timeout_s=self.drain_timeout_s, **self.host_kwargs)
            self._thread.start()
            self.call(self.host.start(), timeout_s)
        except BaseException:
            self._teardown()
            raise
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = 30.0) -> T:
        """Run ``coro`` on the host's loop and return its result (re-raising its exception)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        assert self.host is not None
        return self.host.base_url

    @property
    def clock(self) -> Any:
        """The host's clock (a :class:`~devhost.clock.VirtualClock` for ``clock="virtual*"``)."""
        assert self.host is not None
        return self.host.clock

    def stop(self, timeout_s: float | None = None) -> None:
        """Graceful stop (drain bounded by ``timeout_s``, default ``drain_timeout_s``), then restore env."""
        try:
            if self.host is not None and self._thread.is_alive():
                budget = (timeout_s if timeout_s is not None else self.drain_timeout_s) * 3 + 10
                self.call(self.host.stop(timeout_s), budget)
        finally:
            self._teardown()

    def _teardown(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = None

    def __enter__(self) -> HostThread:
        return self.start() if self.host is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def run_host(app_dir: Path | str, *, data_dir: Path | str, clock: str | Clock = "system",
             settings: Mapping[str, str] | None = None, port: int = 0, **kwargs: Any) -> Iterator[HostThread]:
    """Context manager: a started :class:`HostThread`; stopped gracefully on exit.

    ``clock``: ``"system"``, ``"virtual"`` (auto-advance when idle), ``"virtual-manual"`` or a Clock.
    Extra keywords go to :class:`~devhost.host.Host` (``extensions=[...]``, ``drain_timeout_s=...``).
    """
    thread = HostThread(app_dir, data_dir=data_dir, clock=clock, settings=settings, port=port, **kwargs)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


class DevhostProcess:
    """``python -m devhost start`` as a child process; stdout and stderr are merged and captured."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self.args = args
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.base_url: str | None = None
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name="devhost-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self._lines.append(line)
            m = LISTENING.search(line)
            if m and self.base_url is None:
                self.base_url = m.group(1)
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout_s: float = 30.0) -> str:
        """Wait for the ``Listening on http://127.0.0.1:PORT`` line; returns the base URL.

        Raises RuntimeError (with the output so far) when the process exits first, TimeoutError after
        ``timeout_s``.
        """
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"devhost not ready within {timeout_s}s; output:\n{self.stdout_text()}")
        if self.base_url is None:
            self.proc.wait(5)
            raise RuntimeError(
                f"devhost exited with code {self.proc.returncode} before listening; output:\n"
                f"{self.stdout_text()}"
            )
        return self.base_url

    def stdout_text(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        with self._lock:
            return "".join(self._lines)

    def wait(self, timeout_s: float = 30.0) -> int:
        """Wait for exit; returns the exit code (TimeoutExpired after ``timeout_s``)."""
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait for the graceful exit; kills it if it does not exit in ``timeout_s``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return self.kill()

    def interrupt(self) -> None:
        """Send SIGINT (Ctrl+C) without waiting."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def kill(self) -> int:
        """SIGKILL (no drain) and wait; returns the exit code (negative signal number)."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.wait(10)

    def __enter__(self) -> DevhostProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.terminate()


def start_subprocess(app_dir: Path | str, *, data_dir: Path | str, clock: str = "system",
                     env: Mapping[str, str] | None = None, port: int = 0,
                     extra_args: list[str] | None = None, verbose: bool = True) -> DevhostProcess:
    """Start ``python -m devhost start --app-dir ... --port ... --data-dir ... --clock ...`` (with
    ``--verbose`` unless ``verbose=False``: tests read Executing/Executed lines from stdout).

    The child inherits ``os.environ`` plus ``env`` and imports devhost from this checkout. Call
    :meth:`DevhostProcess.wait_ready` before sending requests.
    """
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p
    )
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    args = [sys.executable, "-m", "devhost", "start", "--app-dir", str(app_dir), "--port", str(port),
            "--data-dir", str(data_dir), "--clock", clock, *(["--verbose"] if verbose else []),
            *(extra_args or [])]
    return DevhostProcess(args, child_env, Path(data_dir))
