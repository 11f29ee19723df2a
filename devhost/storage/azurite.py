"""Find, start, probe and stop Azurite, the Azure Storage emulator (pinned npm dependency).

Mirrors the command line recommended in https://learn.microsoft.com/azure/storage/common/storage-use-azurite
(``azurite --blobHost 127.0.0.1 ... --skipApiVersionCheck``): loopback only, data under a ``--location``
directory or ``--inMemoryPersistence`` (the two exclude each other), telemetry off. Port 0 lets the OS
choose; the actual ports are read from Azurite's "successfully listening at" lines.

Devhost starts Azurite when ``AzureWebJobsStorage`` or a storage binding's connection is
``UseDevelopmentStorage=true`` or points at loopback endpoints and nothing answers there (see
:func:`is_answering`); a running Azurite is used as is, unless it is a stale one a killed devhost left
behind (its pidfile ``<location>/azurite.pid`` names it and its devhost is gone): that one is stopped and
replaced, so an orphan is never reused silently.

Supervision (:meth:`AzuriteProcess.supervise`): a watcher thread restarts an Azurite that exits on its own
(same ports and data, backoff 0.5 s doubling to 10 s, logged), until devhost stops it. Devhost stops it on
every exit it controls: a normal stop, a second Ctrl+C (:func:`stop_all`), interpreter exit (``atexit``);
after a ``kill -9`` of devhost the pidfile lets the next start clean up.

Azurite keeps tables in memory and writes them to ``--location`` periodically: killed with ``-9`` it can
lose the most recent writes (e.g. ledger rows). The case app's side effects stay single through the
downstream's idempotency key or the adapter's reconcile read (``shared/ledger.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devhost.storage.errors import AzuriteError

log = logging.getLogger("devhost.storage.azurite")

DEV_ACCOUNT = "devstoreaccount1"
# The emulator's well-known, public key (documented by Microsoft; not a secret).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}
SETUP_HINT = "run `make run` (or `npm ci` in the project root) to install the pinned Azurite"
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at (\S+)")
_REPO_ROOT = Path(__file__).resolve().parents[2]
PIDFILE = "azurite.pid"
_STARTED: set[AzuriteProcess] = set()
_STARTED_LOCK = threading.Lock()


@dataclass(frozen=True)
class AzuriteEndpoints:
    """Service base URLs of one Azurite, e.g. ``blob="http://127.0.0.1:10000"`` (no account, no slash)."""

    blob: str
    queue: str
    table: str

    def account_url(self, service: str) -> str:
        """``http://127.0.0.1:<port>/devstoreaccount1`` for ``service`` in blob/queue/table."""
        return f"{getattr(self, service)}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        """A full connection string for the well-known account at these endpoints (works with any SDK)."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={self.account_url('blob')};QueueEndpoint={self.account_url('queue')};"
            f"TableEndpoint={self.account_url('table')};"
        )

    @classmethod
    def default(cls) -> AzuriteEndpoints:
        """The endpoints ``UseDevelopmentStorage=true`` means (ports 10000/10001/10002)."""
        return cls(**{k: f"http://127.0.0.1:{p}" for k, p in DEFAULT_PORTS.items()})


def find_azurite(search_from: Path | None = None) -> list[str]:
    """Command (argv prefix) that runs Azurite: ``node_modules/.bin/azurite`` under ``search_from`` or one
    of its parents, else under the devhost checkout, else ``azurite`` on PATH.

    Raises AzuriteError naming the set-up command when Node.js or Azurite is missing.
    """
    if shutil.which("node") is None:
        raise AzuriteError(
            f"Node.js (`node`) is not on PATH; Azurite needs Node.js 20+. Install it, then {SETUP_HINT}."
        )
    starts = [p for p in (search_from, _REPO_ROOT) if p is not None]
    for start in starts:
        for d in (start.resolve(), *start.resolve().parents):
            candidate = d / "node_modules" / ".bin" / "azurite"
            if candidate.exists():
                return [str(candidate)]
    on_path = shutil.which("azurite")
    if on_path:
        return [on_path]
    raise AzuriteError(f"Azurite is not installed (no node_modules/.bin/azurite found); {SETUP_HINT}.")


def is_answering(base_url: str, timeout_s: float = 1.0) -> bool:
    """True when an HTTP server answers at ``base_url`` (any status, e.g. Azurite's 400/403 counts)."""
    try:
        with urllib.request.urlopen(f"{base_url}/{DEV_ACCOUNT}?comp=list", timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


class AzuriteProcess:
    """One Azurite child process. ``start()`` blocks until every service answers; ``stop()`` ends it.

    ``location`` None → ``--inMemoryPersistence``; otherwise the workspace directory (created).
    ``ports`` maps blob/queue/table to a port (0 → chosen by the OS). Only 127.0.0.1 is ever bound.
    """

    def __init__(
        self,
        *,
        location: Path | None = None,
        ports: dict[str, int] | None = None,
        search_from: Path | None = None,
        startup_timeout_s: float = 30.0,
        loose: bool = True,
    ) -> None:
        self.location = location
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.search_from = search_from
        self.startup_timeout_s = startup_timeout_s
        self.loose = loose
        self.endpoints: AzuriteEndpoints | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._found: dict[str, str] = {}
        self._output: list[str] = []
        self._ready = threading.Event()
        self._stopping = False
        self._watcher: threading.Thread | None = None

    def command(self) -> list[str]:
        """The full argv (for logs and tests)."""
        argv = [*find_azurite(self.search_from)]
        for svc, port in self.ports.items():
            argv += [f"--{svc}Host", "127.0.0.1", f"--{svc}Port", str(port)]
        if self.location is None:
            argv.append("--inMemoryPersistence")
        else:
            argv += ["--location", str(self.location)]
        argv += ["--skipApiVersionCheck", "--disableTelemetry", "--silent"]
        if self.loose:
            argv.append("--loose")
        return argv

    def start(self) -> AzuriteEndpoints:
        """Start Azurite and wait (polling) until blob, queue and table answer.

        Raises AzuriteError when it cannot be found, exits early, or does not answer within
        ``startup_timeout_s`` seconds (the message includes Azurite's own output, e.g. "address in use").
        """
        argv = self.command()
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
        cwd = self.location or Path(os.environ.get("TMPDIR", "/tmp"))
        self._found, self._output = {}, []
        self._ready = threading.Event()
        self._stopping = False
        log.info("Starting Azurite: %s", " ".join(argv))
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # Ctrl-C in the terminal reaches devhost, which stops us
            )
        except OSError as exc:
            raise AzuriteError(f"could not run Azurite ({exc}); {SETUP_HINT}") from exc
        reader = threading.Thread(
            target=self._read_output, args=(self._proc,), name="azurite-output", daemon=True
        )
        reader.start()
        atexit.register(self.stop)  # also when the host dies without stopping its extensions
        with _STARTED_LOCK:
            _STARTED.add(self)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._ready.wait(1.0)
                raise AzuriteError(
                    f"Azurite exited with code {self._proc.returncode}: {' | '.join(self._output[-5:])}"
                )
            if self._ready.wait(0.05):
                break
        else:
            self._terminate()
            raise AzuriteError(
                f"Azurite did not start within {self.startup_timeout_s:.0f} s: {self._output[-5:]}"
            )
        if len(self._found) < 3:  # stdout closed early: Azurite exited before announcing every service
            proc = self._proc
            self._terminate()
            raise AzuriteError(
                f"Azurite exited (code {proc.poll()}) before listening on every service: "
                f"{' | '.join(self._output[-5:])}"
            )
        endpoints = AzuriteEndpoints(**self._found)
        while not all(is_answering(getattr(endpoints, s), 0.5) for s in ("blob", "queue")):
            if time.monotonic() > deadline:
                self._terminate()
                raise AzuriteError(f"Azurite started but does not answer at {endpoints}")
            time.sleep(0.05)
        self.endpoints = endpoints
        self.ports = {svc: _port(getattr(endpoints, svc)) for svc in ("blob", "queue", "table")}
        self._write_pidfile()
        log.info(
            "Azurite is listening: blob %s, queue %s, table %s",
            endpoints.blob,
            endpoints.queue,
            endpoints.table,
        )
        return endpoints

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def _write_pidfile(self) -> None:
        if self.location is None or self._proc is None:
            return
        record = {"pid": self._proc.pid, "devhost_pid": os.getpid(), "ports": self.ports}
        (self.location / PIDFILE).write_text(json.dumps(record))

    def supervise(self, *, max_backoff_s: float = 10.0) -> threading.Thread:
        """Watch the child from a daemon thread: when it exits while not being stopped, log it and start
        it again on the same ports (and data), retrying with backoff (0.5 s doubling up to
        ``max_backoff_s``) until it runs or :meth:`stop` is called. Returns the watcher thread."""

        def watch() -> None:
            backoff = 0.5
            while True:
                proc = self._proc
                if proc is None or self._stopping:
                    return
                code = proc.wait()
                if self._stopping or self._proc is not proc:
                    return
                log.warning(
                    "Azurite (pid %s) exited with code %s; restarting it on the same ports", proc.pid, code
                )
                while not self._stopping:
                    try:
                        self.start()
                        log.info("Azurite restarted (pid %s)", self.pid)
                        backoff = 0.5
                        break
                    except AzuriteError as exc:
                        log.error("Azurite restart failed (%s); next try in %.1fs", exc, backoff)
                        time.sleep(backoff)
                        backoff = min(backoff * 2, max_backoff_s)

        thread = threading.Thread(target=watch, name="azurite-supervisor", daemon=True)
        thread.start()
        self._watcher = thread
        return thread

    def _read_output(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        ready = self._ready
        for line in proc.stdout:
            line = line.rstrip()
            self._output.append(line)
            del self._output[:-50]
            m = _LISTENING.search(line)
            if m:
                self._found[m.group(1).lower()] = m.group(2).rstrip("/")
                if len(self._found) == 3:
                    ready.set()
        ready.set()

    @property
    def running(self) -> bool:
        """Whether the child process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate Azurite (SIGTERM), then kill it after ``timeout_s`` seconds; ends supervision and
        removes the pidfile. Idempotent."""
        self._stopping = True
        with _STARTED_LOCK:
            _STARTED.discard(self)
        if self.location is not None:
            with contextlib.suppress(OSError):
                (self.location / PIDFILE).unlink()
        atexit.unregister(self.stop)
        if self._terminate(timeout_s):
            log.info("Azurite stopped")

    def _terminate(self, timeout_s: float = 10.0) -> bool:
        """SIGTERM the child, SIGKILL after ``timeout_s``; True when one was running."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return False
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        return True


def stop_all(timeout_s: float = 3.0) -> None:
    """Stop every Azurite this process started (for exits that skip the normal stop, e.g. a second
    Ctrl+C that leaves with ``os._exit``)."""
    with _STARTED_LOCK:
        procs = list(_STARTED)
    for proc in procs:
        proc.stop(timeout_s)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_azurite(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _alive(pid)  # no /proc (macOS): trust the pidfile
    return b"azurite" in cmdline


def clean_stale(location: Path, timeout_s: float = 10.0) -> bool:
    """Stop the Azurite named by ``location``'s pidfile when the devhost that started it is gone (killed
    with -9, or a second Ctrl+C before this fix). Returns True when one was stopped. Logged."""
    pidfile = location / PIDFILE
    try:
        record = json.loads(pidfile.read_text())
        pid, owner = int(record["pid"]), int(record.get("devhost_pid", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if owner and owner != os.getpid() and _alive(owner):
        return False  # another running devhost owns it
    stopped = False
    if _alive(pid) and _is_azurite(pid):
        log.warning("Stopping a stale Azurite (pid %d) left by an earlier devhost run (%s)", pid, pidfile)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped = True
    with contextlib.suppress(OSError):
        pidfile.unlink()
    return stopped


def ensure_azurite(
    endpoints: AzuriteEndpoints, *, location: Path | None, search_from: Path | None = None
) -> AzuriteProcess | None:
    """Start Azurite on ``endpoints``' ports unless something already answers at its blob and queue
    endpoints, and supervise it. A stale Azurite of an earlier devhost run on ``location`` (pidfile) is
    stopped first. Returns the process started (the caller stops it) or None when one was already running.

    Raises AzuriteError (see :meth:`AzuriteProcess.start`).
    """
    if location is not None and clean_stale(location):
        deadline = time.monotonic() + 10
        while is_answering(endpoints.queue, 0.2) and time.monotonic() < deadline:
            time.sleep(0.05)
    if is_answering(endpoints.queue) and is_answering(endpoints.blob):
        log.info("Using the Azurite already answering at %s", endpoints.queue)
        return None
    ports = {svc: _port(getattr(endpoints, svc)) for svc in ("blob", "queue", "table")}
    proc = AzuriteProcess(location=location, ports=ports, search_from=search_from)
    proc.start()
    proc.supervise()
    return proc


def _port(url: str) -> int:
    m = re.match(r"^https?://[^:/]+:(\d+)", url)
    if not m:
        raise AzuriteError(f"cannot tell the port of {url!r}; give loopback endpoints with explicit ports")
    return int(m.group(1))
