"""Shared pytest set-up: the checkout is importable (``devhost``, ``shared``, ``tests.*``) whatever the
working directory. Each test area keeps its fixtures in its own ``conftest.py``; shared fixture plugins
(Azurite, spans) and the bench summary are registered below (``pytest_plugins``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins: list[str] = ["tests.fixtures.azurite", "tests.fixtures.bench_summary", "tests.fixtures.spans"]
