"""``python -m devhost`` as a child process: function list, serving, graceful drain, exit codes."""

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from devhost.testing import REPO_ROOT, start_subprocess, wait_for
from tests.fixtures.paths import APPS

pytestmark = pytest.mark.subprocess


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devhost", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_help_documents_every_start_option() -> None:
    """--help lists the start command and each of its options."""
    top = run_cli("--help")
    assert top.returncode == 0 and "start" in top.stdout
    start = run_cli("start", "--help")
    for option in ("--app-dir", "--port", "--data-dir", "--clock", "--drain-timeout", "--demo"):
        assert option in start.stdout


def test_serves_lists_functions_and_drains_on_sigterm(tmp_path: Path) -> None:
    """The function list is printed like func start; SIGTERM lets the in-flight request finish; exit 0."""
    proc = start_subprocess(APPS / "http_basic", data_dir=tmp_path)
    outcome: dict[str, object] = {}
    try:
        base = proc.wait_ready(30)
        out = proc.stdout_text()
        assert "Functions:" in out
        assert f"\thello: [GET] {base}/api/hello/{{name}}" in out
        assert f"\techo: [POST,PUT] {base}/api/echo" in out
        assert f"\tplain:  {base}/api/plain" in out
        assert httpx.get(f"{base}/api/hello/cli", timeout=10).text == "Hello, cli!"

        def slow() -> None:
            outcome["response"] = httpx.get(f"{base}/api/slow-sync", params={"s": "1.5"}, timeout=20)

        thread = threading.Thread(target=slow)
        thread.start()
        wait_for(lambda: "Executing 'Functions.slow_sync'" in proc.stdout_text(), 10, message="slow started")
        code = proc.terminate(30)
        thread.join(10)
    finally:
        proc.kill()
    response = outcome["response"]
    assert isinstance(response, httpx.Response) and response.text == "slept 1.5"
    assert code == 0
    out = proc.stdout_text()
    assert "SIGTERM received" in out and "Executed 'Functions.slow_sync' (Succeeded" in out
    assert out.index("Executed 'Functions.slow_sync'") < out.index("Host stopped")


def test_sigint_stops_gracefully(tmp_path: Path) -> None:
    """Ctrl+C (SIGINT) also drains and exits 0."""
    with start_subprocess(APPS / "http_routes", data_dir=tmp_path) as proc:
        base = proc.wait_ready(30)
        assert httpx.get(f"{base}/orders/1", timeout=10).json()["function"] == "order_by_id"
        proc.interrupt()
        assert proc.wait(30) == 0
    assert "SIGINT received" in proc.stdout_text()


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("broken_no_script", "function_app.py not found"),
        ("broken_import", "importing it raised ModuleNotFoundError: No module named 'helpers'"),
        ("broken_no_app", "could not find a top-level function app instance"),
        ("broken_host_json", "missing the required 'version' property"),
        ("broken_encrypted", "IsEncrypted is true"),
    ],
)
def test_load_errors_exit_1_with_one_error_line(tmp_path: Path, app: str, message: str) -> None:
    """Configuration and app-loading errors print ``error: ...`` and exit with code 1."""
    result = run_cli("start", "--app-dir", str(APPS / app), "--port", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr.splitlines()[0]


def test_demo_runs_the_configured_callable(tmp_path: Path) -> None:
    """--demo calls DEVHOST_DEMO (module:function from the app dir) with the base URL."""
    with start_subprocess(APPS / "http_basic", data_dir=tmp_path, env={"DEVHOST_DEMO": "demo_client:run"},
                          extra_args=["--demo"]) as proc:
        proc.wait_ready(30)
        wait_for(lambda: "DEMO got: Hello, demo!" in proc.stdout_text(), 15, message="demo output")
        assert proc.terminate() == 0


def test_virtual_manual_clock_through_the_admin_endpoint(tmp_path: Path) -> None:
    """--clock virtual-manual: time stands still until POST /admin/clock moves it."""
    with start_subprocess(APPS / "http_timeout", data_dir=tmp_path, clock="virtual-manual") as proc:
        base = proc.wait_ready(30)
        before = httpx.get(f"{base}/admin/clock", timeout=10).json()
        assert before["kind"] == "virtual" and before["autoAdvance"] is False
        after = httpx.post(f"{base}/admin/clock", json={"advanceSeconds": 86400}, timeout=10).json()
        assert after["now"][:10] > before["now"][:10]
        assert proc.terminate() == 0


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    """A port already taken: one error line naming it, exit code 1."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("start", "--app-dir", str(APPS / "http_timeout"), "--port", str(port),
                         "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.stderr
