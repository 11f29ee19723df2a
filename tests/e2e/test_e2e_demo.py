"""The demo loader (scripts/demo.py) against the app on devhost: it sends real samples and reports stages."""

from __future__ import annotations

import pytest

from scripts.demo import run

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def test_demo_sends_samples_and_prints_where_to_look(app, capsys):
    """Automatic cases complete, privileged ones wait, and the curl examples are printed."""
    run(app.client.base)
    out = capsys.readouterr().out
    assert out.count("  202  ") == 5, out
    assert "completed" in out and "awaiting_approval" in out
    assert "/api/approvals" in out and "/decision" in out
    assert len(app.client.approvals()) == 3
