"""Issue 13 acceptance: ``make run`` from a clean checkout in a temporary directory, as a new user runs it.

The checkout is the repository's tracked files (``git ls-files``, with their modification times) copied to a
temp dir: no ``.venv``, ``node_modules``, ``.devhost`` or ``local.settings.json``. To stay network-free and
fast, the pinned installs are not downloaded again: ``.venv`` and ``node_modules`` in the copy are
directories of symlinks to this checkout's installs (made from the same pinned files), each with a fresh
install stamp, so the Makefile's own rules find them current and go straight to
``.venv/bin/python -m devhost start --app-dir . --demo``. Were a stamp stale, ``npm ci`` / ``pip`` would
replace the symlinks inside the temp dir only, never the shared installs.

``local.settings.json`` is the sample with two changes a user with busy default ports would make: the HTTP
port (``Host.LocalHttpPort``) and the storage connection (explicit Azurite endpoints on free ports), so the
test runs beside other devhosts and Azurites. devhost starts its own Azurite there, as with the sample's
``UseDevelopmentStorage=true``.

Asserted: the listening line; fewer than 80 stdout lines up to the end of the demo summary; the summary
names every demo case; approving the demo GitHub case completes it (offline: the local sink); every README
shell block and the queue sender snippet run as pasted against it; Ctrl+C (SIGINT
to make's process group, as a terminal sends it) stops devhost with exit code 0 (make reports a failed or
signalled recipe with a ``make: ***`` line before it dies of the SIGINT itself; a recipe that exits 0 gets
none) and leaves no process behind, Azurite included; a second Ctrl+C during the drain also leaves none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.storage.azurite import AzuriteEndpoints
from devhost.testing import wait_for
from tests.e2e.case_harness import REPO, principal

pytestmark = [pytest.mark.azurite, pytest.mark.slow, pytest.mark.subprocess]

DEMO_LABELS = ("plain order.cancel", "CloudEvent refund.request", "plain account.change",
               "plain payment.release", "GitHub deployment to production")


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def link_farm(source: Path, target: Path, stamp: str) -> None:
    """``target`` as a real directory whose entries are symlinks to ``source``'s, plus a fresh ``stamp``."""
    target.mkdir()
    for entry in source.iterdir():
        if entry.name != stamp:
            (target / entry.name).symlink_to(entry)
    (target / stamp).touch()


def clean_checkout(dest: Path) -> Path:
    """The tracked files of this checkout in ``dest`` (modification times kept), with linked installs."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    for name in listed.stdout.decode().split("\0"):
        if not name or not (REPO / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    link_farm((REPO / ".venv").resolve(), dest / ".venv", ".installed")
    link_farm((REPO / "node_modules").resolve(), dest / "node_modules", ".installed")
    return dest


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action, as in a terminal (a test run started in
    the background inherits SIGINT ignored, and make would then ignore the Ctrl+C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class MakeRun:
    """``make run`` in its own process group; stdout+stderr collected line by line."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST", "COV_", "MAKE")) and k != "MFLAGS"}
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(["make", "run"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                     start_new_session=True, preexec_fn=_default_sigint)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, needle: str, timeout_s: float = 90) -> int:
        """Index of the first line containing ``needle``."""
        def found() -> int | None:
            return next((i for i, line in enumerate(list(self.lines)) if needle in line), None)
        return wait_for(found, timeout_s, 0.05, f"{needle!r} in make run's output:\n{self.text()[-3000:]}")

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl+C: SIGINT to the foreground process group (make and devhost)."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout_s: float = 60) -> int:
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def processes_in(directory: Path) -> list[str]:
    """Command lines of live processes started from, or pointing into, ``directory``."""
    found = []
    root = str(directory)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (cwd.startswith(root) or root in cmdline):
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def run_readme_blocks(work: Path, base: str) -> None:
    """Every README shell block and its queue sender snippet, as pasted (``bash -e -o pipefail``), against
    the running app: only the port (and, for the snippet, the storage connection) differ from the defaults."""
    readme = (work / "README.md").read_text(encoding="utf-8")
    port = base.rsplit(":", 1)[1]
    for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", readme, re.S | re.M):
        if "make run" in block:  # the two top-level commands: make run is what is running
            continue
        script = block.replace("127.0.0.1:7071", f"127.0.0.1:{port}")
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "DEVHOST_URL": base})
        report = f"{block}\n--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
        assert done.returncode == 0, report
        assert "error:" not in done.stderr, done.stderr
    settings = json.loads((work / "local.settings.json").read_text())
    snippet = re.findall(r"^```python\n(.*?)^```", readme, re.S | re.M)[0]
    snippet = snippet.replace('"UseDevelopmentStorage=true"', repr(settings["Values"]["AzureWebJobsStorage"]))
    done = subprocess.run([str(work / ".venv" / "bin" / "python"), "-c", snippet], cwd=work,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("case-"), done.stdout + done.stderr


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    work = clean_checkout(tmp_path / "clone")
    http_port, blob, queue, table = free_ports(4)
    settings = json.loads((work / "local.settings.sample.json").read_text())
    endpoints = AzuriteEndpoints(blob=f"http://127.0.0.1:{blob}", queue=f"http://127.0.0.1:{queue}",
                                 table=f"http://127.0.0.1:{table}")
    settings["Values"]["AzureWebJobsStorage"] = endpoints.connection_string
    settings["Host"] = {"LocalHttpPort": http_port}
    (work / "local.settings.json").write_text(json.dumps(settings, indent=2))
    yield work
    leftovers = processes_in(work)
    for line in leftovers:  # never leave anything running, even when the test failed
        os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


def test_make_run_from_a_clean_checkout(checkout: Path) -> None:
    """Listening line, a calm console through the demo summary, the GitHub case approved offline, Ctrl+C
    leaves nothing behind."""
    run = MakeRun(checkout)
    try:
        listening = run.lines[run.wait_line("Listening on http://127.0.0.1:")]
        base = listening.split("Listening on ", 1)[1].strip()
        start = run.wait_line("Demo summary", 120)
        end = run.wait_line("Audit trail:", 30) + 1  # the summary's closing rule
        through_demo = run.lines[: end + 1]
        print(f"\nmake run: {len(through_demo)} stdout lines through the demo summary")
        assert len(through_demo) < 80, "\n".join(through_demo)
        summary = "\n".join(run.lines[start:end + 1])
        for label in DEMO_LABELS:
            assert label in summary, summary
        github_line = next(line for line in run.lines[start:end] if "GitHub deployment" in line)
        github_case = next(word for word in github_line.split() if word.startswith("case-"))
        assert "local sink" in summary

        bob = principal("bob", "approver")
        with httpx.Client(base_url=base, timeout=30) as http:
            decided = http.post(f"/api/cases/{github_case}/decision", headers=bob,
                                json={"decision": "approve", "reason": "make run acceptance"})
            assert decided.status_code in (202, 409), decided.text  # 409: approved by an earlier run

            def completed() -> dict | None:
                view = http.get(f"/api/cases/{github_case}", headers=bob).json()
                return view if view["stage"] in ("completed", "failed") else None

            view = wait_for(completed, 60, 0.1, "the GitHub case to finish")
        assert view["stage"] == "completed", view.get("outcome")
        assert view["outcome"]["result"]["result"]["sink"]["sent"] is False

        run_readme_blocks(checkout, base)
        run.ctrl_c()
        make_code = run.wait(90)
    finally:
        run.kill()
    out = run.text()
    assert "Host stopped" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    # make reports the interrupt by dying of SIGINT itself; had devhost exited non-zero (or of a signal) make
    # would first have printed "make: *** [Makefile:NN: run] Error N" (or "... Interrupt") for the recipe.
    # (Exit code 0: a make that did not take the SIGINT returned devhost's own exit code.)
    assert make_code in (-signal.SIGINT, 0), make_code
    assert "make: ***" not in out, out[-3000:]
    wait_for(lambda: not processes_in(checkout), 30, 0.1, "no process left behind")


def test_second_ctrl_c_during_the_drain_leaves_nothing(checkout: Path) -> None:
    """A second Ctrl+C while devhost drains exits at once, and still stops the Azurite it started."""
    run = MakeRun(checkout)
    try:
        run.wait_line("Listening on http://127.0.0.1:")
        wait_for(lambda: processes_in(checkout), 10, 0.1, "devhost and Azurite running")
        assert any("azurite" in p for p in processes_in(checkout)), processes_in(checkout)
        run.ctrl_c()
        run.wait_line("SIGINT received", 30)
        run.ctrl_c()
        run.wait(60)
    finally:
        run.kill()
    out = run.text()
    print(f"\nsecond Ctrl+C handled during the drain: {'Second SIGINT' in out}")
    wait_for(lambda: not processes_in(checkout), 30, 0.1, f"no process left behind:\n{out[-2000:]}")
    assert "Second SIGINT" in out or "Host stopped" in out, out[-2000:]
