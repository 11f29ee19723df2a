"""The judgment eval set and bench: the data covers every event type the policy knows, and the bench runs
for the rules and, against the local Chat Completions server, for the agent (figures printed, only checked
for sanity)."""

from __future__ import annotations

from collections import Counter

from bench.judgment_eval import DATA, load_rows, main, to_event
from shared.policy import load_policy
from tests.fixtures.chat_server import ChatServerThread


def test_the_eval_set_covers_every_event_type_format_and_injections():
    rows = load_rows(DATA)
    events = [to_event(row) for row in rows]
    known = {rule.type for rule in load_policy(None).rules}
    types = Counter(e.type for e in events)
    assert len(rows) >= 60
    assert known <= set(types), known - set(types)
    assert any(t not in known for t in types), "unknown types (the policy's fallback) are covered"
    assert {e.format for e in events} == {"plain", "cloudevents", "github"}
    assert sum("injection" in row["tags"] for row in rows) >= 10
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert set(row["label"]) == {"category", "risk_class", "approval"}, row["id"]


def figures(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def run_bench(capsys, *args: str) -> str:
    """``bench/judgment_eval.py ARGS`` in this process (its ``main``; the CLI's arguments and output),
    saving two interpreter starts; returns what it printed."""
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def _ratio(value: str) -> float:
    return float(value.split()[0])


def test_bench_rules_and_agent_against_the_local_server(record_property, capsys, monkeypatch):
    rules = run_bench(capsys, "--judgment", "rules")
    with ChatServerThread() as chat:
        monkeypatch.setenv("OPENAI_BASE_URL", chat.url)
        monkeypatch.setenv("OPENAI_MODEL", "scripted")
        agent = run_bench(capsys, "--judgment", "agent")
        calls = len(chat.requests)
    # shown at the end of the run by tests/fixtures/bench_summary.py
    record_property("judgment_bench_lines", [
        "--judgment rules",
        *rules.splitlines(),
        "--judgment agent (local Chat Completions server, tests/fixtures/chat_server.py)",
        *agent.splitlines(),
    ])
    r, a = figures(rules), figures(agent)
    n = len(load_rows(DATA))
    assert r["events"].startswith(f"{n} ") and a["events"].startswith(f"{n} ")
    for key in ("category accuracy", "risk class accuracy", "policy outcome match", "fallback rate (steps)"):
        assert 0.0 <= _ratio(r[key]) <= 1.0 and 0.0 <= _ratio(a[key]) <= 1.0
    assert r["model calls per case"] == "0.00" and r["tokens per case"] == "0.0"
    assert a["judgment"].startswith("agent via Chat Completions") and calls == 4 * n
    assert float(a["tokens per case"]) > 0 and float(a["cost per case"]) > 0
    # the local model obeys injected text; the boundary keeps every such case's policy outcome
    assert a["policy outcome match on injection attempts"].startswith("1.000")
