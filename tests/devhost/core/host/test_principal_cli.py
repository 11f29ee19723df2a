"""``python -m devhost principal`` prints headers the app's Easy Auth parser accepts; a bare interpreter
without devhost's dependencies gets a one-line hint instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared.identity import principal_from_headers
from tests.fixtures.paths import ROOT

REPO = ROOT


def run_cli(*args: str, python: str = sys.executable, env: dict[str, str] | None = None):
    return subprocess.run([python, "-m", "devhost", *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env=env or {**os.environ, "PYTHONPATH": str(REPO)})


def test_principal_headers_parse_as_the_platform_would() -> None:
    """The default output is ``Name: value`` lines (curl -H @file); the app reads bob with his role."""
    result = run_cli("principal", "bob", "--role", "approver", "--role", "viewer")
    assert result.returncode == 0, result.stderr
    headers = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    principal = principal_from_headers(headers)
    assert principal is not None and principal.name == "bob"
    assert principal.roles == {"approver", "viewer"}


def test_missing_dependencies_say_how_to_get_them(tmp_path: Path) -> None:
    """With devhost importable but not its dependencies (``-S -I``-like: an empty site), one hint, exit 1."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "PYTHONNOUSERSITE": "1"}
    result = subprocess.run([sys.executable, "-S", "-m", "devhost", "--help"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "make venv" in result.stderr and ".venv/bin/python" in result.stderr
    assert "Traceback" not in result.stderr
