"""The test tree's own rules (docs/architecture.md#tests-and-benchmarks): any test file runs alone;
the tier says what runs.

- ``tests`` is a regular package all the way down (an ``__init__.py`` in every directory holding test
  code), so ``tests.x.y`` always means this checkout's file: the durable SDK's wheel installs a top-level
  ``tests`` package (``tests/orchestrator``, ``tests/tasks``, ...) into site-packages, and with namespace
  packages an import of ``tests.orchestrator...`` could resolve there once the checkout left ``sys.path``;
- every ``from tests.… import`` in the repository names a module that exists in this checkout, and no
  test module imports a sibling helper by its bare name (that only works when pytest put its directory
  on ``sys.path``);
- every directory named ``unit`` enforces the unit tier (its ``conftest.py``, or an ancestor's, uses
  :func:`tests.fixtures.unit_tier.no_sockets_or_processes`);
- a lazy ``tests.…`` import still resolves here after the checkout left ``sys.path``.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.fixtures.paths import ROOT

TESTS = ROOT / "tests"
#: Fixture apps and data: loaded by devhost as apps (their own import roots) or read as files.
NOT_PACKAGES = ("tests/apps", "tests/data", "tests/golden/histories", "tests/integration/ingress/ingress_app")
IMPORT = re.compile(r"^\s*(?:from|import)\s+(tests(?:\.\w+)+)", re.M)
TOP_IMPORT = re.compile(r"^\s*(?:from|import)\s+(\w+)", re.M)


def _code_dirs() -> list:
    dirs = set()
    for path in TESTS.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if "__pycache__" in rel or rel.startswith(NOT_PACKAGES):
            continue
        parent = path.parent
        while parent != ROOT:
            dirs.add(parent)
            parent = parent.parent
    return sorted(dirs)


def test_every_test_directory_is_a_regular_package() -> None:
    """An ``__init__.py`` in every directory from ``tests/`` down to each test module."""
    missing = [d.relative_to(ROOT).as_posix() for d in _code_dirs() if not (d / "__init__.py").is_file()]
    assert not missing, f"add an __init__.py to: {missing}"


def test_every_tests_import_names_a_module_of_this_checkout() -> None:
    """``from tests.unit.x import y`` must resolve under ``tests/`` (never to the SDK wheel's ``tests``)."""
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    dangling = []
    for rel in files:
        path = ROOT / rel
        if not path.is_file():
            continue
        for dotted in IMPORT.findall(path.read_text(encoding="utf-8")):
            target = ROOT.joinpath(*dotted.split("."))
            if not (target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()):
                dangling.append(f"{rel}: {dotted}")
        if rel.startswith("tests/") and not rel.startswith(NOT_PACKAGES):
            for name in TOP_IMPORT.findall(path.read_text(encoding="utf-8")):
                if name != "conftest" and (path.parent / f"{name}.py").is_file():
                    dangling.append(f"{rel}: bare sibling import {name!r} (write tests.<path>.{name})")
    assert not dangling, "\n".join(dangling)


def test_every_unit_directory_enforces_the_unit_tier() -> None:
    """No sockets, no processes under any ``unit/`` directory (the guard fixture is in scope)."""
    unguarded = []
    for unit in [d for d in _code_dirs() if d.name == "unit"]:
        chain = [unit, *[p for p in unit.parents if p.is_relative_to(TESTS)]]
        if not any("no_sockets_or_processes" in (d / "conftest.py").read_text(encoding="utf-8")
                   for d in chain if (d / "conftest.py").is_file()):
            unguarded.append(unit.relative_to(ROOT).as_posix())
    assert not unguarded, f"unit directories without the tier guard: {unguarded}"


def test_tests_imports_resolve_to_the_checkout_even_after_it_left_sys_path(tmp_path) -> None:
    """The trap that broke ``pytest tests/e2e/test_e2e_cases.py tests/golden``: once ``tests`` is imported,
    a later (lazy) ``import tests.unit.orchestrations.orch_fixtures`` resolves in this checkout even when
    the checkout is no longer on ``sys.path`` (devhost's loader used to drop it after running the app),
    instead of failing against the SDK wheel's ``tests`` package. Fresh interpreter, another directory."""
    probe = ("import sys; root = sys.argv[1]; sys.path.insert(0, root); import tests; "
             "sys.path[:] = [p for p in sys.path if p not in (root, '')]; "
             "import importlib.util as u; o = u.find_spec('tests.unit.orchestrations.orch_fixtures').origin; "
             "assert o.startswith(root), o; "
             "assert list(tests.__path__) == [root + '/tests'], tests.__path__")
    result = subprocess.run([sys.executable, "-c", probe, str(ROOT)], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
