"""Helpers of the replay gate tests: a temporary copy of the app with an edited orchestrator, and running the
gate in its own process (an app's ``get_functions()`` may be called once per process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP_PARTS = ("function_app.py", "host.json", "orchestrations", "activities", "triggers", "shared")


def app_copy(target: Path, replace: dict[str, tuple[str, str]] | None = None) -> Path:
    """Copy the app (not devhost, tests or tools) to ``target``; ``replace`` maps a relative file to
    ``(old, new)`` text that must occur in it."""
    target.mkdir(parents=True, exist_ok=True)
    for part in APP_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    for relative, (old, new) in (replace or {}).items():
        path = target / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))
    return target


def run_gate(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tools.replay_gate <args>`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tools.replay_gate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


RENAME = {"orchestrations/names.py": ('ASSESS_RISK = "assess_risk"', 'ASSESS_RISK = "assess_risk_v2"')}
REORDER = {
    "orchestrations/names.py": (
        '    "policy": ASSESS_POLICY,\n    "risk": ASSESS_RISK,\n',
        '    "risk": ASSESS_RISK,\n    "policy": ASSESS_POLICY,\n',
    )
}
