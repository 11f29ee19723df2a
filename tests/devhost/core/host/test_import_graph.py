"""devhost's module graph: every module imports on its own, and no two modules import each other.

Two checks. (1) Each module under ``devhost/`` is imported first, in a fresh child interpreter that
imports them one after another and drops every ``devhost`` module from ``sys.modules`` in between (one
process, so third-party imports stay warm and the test stays fast). (2) The import graph read from the
source with ``ast`` (module-level, function-level and ``TYPE_CHECKING`` imports alike, so a cycle cannot
hide behind a late import) has no cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.fixtures.paths import ROOT

PACKAGE = ROOT / "devhost"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """devhost modules ``module`` imports anywhere in its source (``from a import b`` → ``a.b``)."""
    is_package = path.name == "__init__.py"
    here = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known and t != module and not module.startswith(t + ".")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_between_devhost_modules() -> None:
    """No module reaches itself through imports (e.g. the old admin → host → server → admin)."""
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    assert _cycle(graph) is None, f"import cycle: {' → '.join(_cycle(graph) or [])}"


def test_every_devhost_module_imports_on_its_own() -> None:
    """Importing any one module first (nothing of devhost loaded before it) succeeds."""
    names = sorted(_modules())
    script = (
        "import importlib, sys, traceback\n"
        f"names = {names!r}\n"
        "failed = []\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m == 'devhost' or m.startswith('devhost.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed.append(name + ': ' + traceback.format_exc(limit=3))\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_durable_engine_uses_the_store_only_through_its_interface() -> None:
    """Only the extension (the composition root) names a store implementation; the hub, dispatcher and
    every other durable module import ``devhost.durable.store`` (TaskHubStore, AsyncStore) at most."""
    modules = _modules()
    known = set(modules)
    implementations = {"devhost.durable.sqlite_store", "devhost.durable.memory_store"}
    allowed = {"devhost.durable.extension", *implementations}
    offenders = {
        name: sorted(_imports(name, path, known) & implementations)
        for name, path in modules.items()
        if name not in allowed and _imports(name, path, known) & implementations
    }
    assert offenders == {}
