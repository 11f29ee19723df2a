"""The demo loader (scripts/demo.py) against the app on devhost: it sends real samples and reports stages."""

from __future__ import annotations

import pytest

from scripts.demo import run

pytestmark = [pytest.mark.azurite, pytest.mark.slow]


def test_demo_sends_samples_and_prints_where_to_look(app, capsys):
    """Automatic cases complete, privileged ones wait, the summary names each case and the commands to go
    on; a rerun (fixed event ids) opens no new case."""
    run(app.client.base)
    out = capsys.readouterr().out
    summary = out.split("Demo summary", 1)[1]
    assert summary.count("case-") >= 5, out
    assert "completed" in summary and "awaiting_approval" in summary
    assert "/api/approvals" in summary and "/decision" in summary
    assert len(app.client.approvals()) == 3
    run(app.client.base)
    again = capsys.readouterr().out.split("Demo summary", 1)[1]
    assert len(app.client.approvals()) == 3  # the same three cases, nothing new

    def case_ids(text: str) -> list[str]:
        return sorted(word for word in text.split() if word.startswith("case-") and len(word) == 37)

    assert case_ids(summary) and case_ids(summary) == case_ids(again)
