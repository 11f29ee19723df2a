"""Evaluate a judgment on labelled events: category and risk class accuracy, policy outcome, fallbacks, cost.

Each line of ``tests/data/judgment_eval.jsonl`` is an HTTP delivery (``headers`` and ``body``: plain JSON,
CloudEvents structured or binary, or a GitHub webhook, which this script signs with its own secret) and a
``label`` (``category``, ``risk_class``, ``approval`` = whether a person must approve) with ``tags`` (e.g.
``injection`` for prompt-injection attempts in free-text fields). Every event goes the way a case does:
normalize (``shared/normalize``) → classify → three specialists (slots 0-2 of 3, as the orchestrator runs
them) → merge → policy evaluation, with the judgment usage carried between steps as the orchestrator does.

    .venv/bin/python bench/judgment_eval.py --judgment rules      # the baseline
    .venv/bin/python bench/judgment_eval.py --judgment agent      # endpoint from the app settings (env)

``--judgment agent`` uses whatever ``OPENAI_BASE_URL``/``OPENAI_MODEL`` or ``AZURE_OPENAI_*`` name (see
``docs/app-judgment.md``); ``--policy`` replaces the shipped policy (its ``judgment:`` budget applies per
event). Prints one figure per line; ``--misses`` lists the events whose outcome differs from the label.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.contracts.event import BusinessEvent  # noqa: E402
from shared.judging import judge_assessment, judge_classification, select_judgment  # noqa: E402
from shared.judgment import SPECIALISTS  # noqa: E402
from shared.judgment_budget import JudgmentRecord, JudgmentSlot, JudgmentUsage, add_usage  # noqa: E402
from shared.judgment_settings import JudgmentSettings  # noqa: E402
from shared.merge import merge_assessments  # noqa: E402
from shared.normalize import normalize_http  # noqa: E402
from shared.normalize.github import sign  # noqa: E402
from shared.policy import PolicyDocument, evaluate, load_policy  # noqa: E402
from shared.settings import AppSettings  # noqa: E402

DATA = ROOT / "tests" / "data" / "judgment_eval.jsonl"
SECRET = "judgment-eval-secret"


@dataclass
class Result:
    """One event's verdict against its label."""

    id: str
    tags: list[str]
    category_ok: bool
    risk_ok: bool
    outcome_ok: bool
    records: list[JudgmentRecord] = field(default_factory=list)
    usage: JudgmentUsage = field(default_factory=JudgmentUsage)
    latency_ms: float = 0.0
    detail: str = ""


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The labelled deliveries of ``path`` (JSON lines; blank lines skipped)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def to_event(row: dict[str, Any]) -> BusinessEvent:
    """Normalize one row's delivery as the HTTP trigger does (GitHub bodies signed with the bench secret)."""
    headers = dict(row["headers"])
    body = json.dumps(row["body"]).encode()
    if any(k.lower() == "x-github-event" for k in headers):
        headers["X-Hub-Signature-256"] = sign(SECRET, body)
    return normalize_http(headers, body, AppSettings(github_webhook_secret=SECRET))


def judge_row(row: dict[str, Any], settings: JudgmentSettings, policy: PolicyDocument) -> Result:
    """Run one event through the judgment, merge and policy; compare with its label."""
    started = time.perf_counter()
    event = to_event(row)
    usage = JudgmentUsage()
    classifier = select_judgment(settings, policy, usage, JudgmentSlot())
    classification, first = judge_classification(classifier, event)
    records = [first]
    usage = add_usage(usage, first.usage)
    assessments = []
    for index, name in enumerate(SPECIALISTS):
        judgment = select_judgment(settings, policy, usage, JudgmentSlot(index=index, of=len(SPECIALISTS)))
        assessment, record = judge_assessment(judgment, name, event, classification, policy)
        assessments.append(assessment)
        records.append(record)
    for record in records[1:]:
        usage = add_usage(usage, record.usage)
    merged = merge_assessments(assessments, policy.defaults.low_confidence_threshold)
    decision = evaluate(policy, event, classification, merged)
    label = row["label"]
    approval = decision.approval.rule != "none"
    return Result(
        id=row["id"],
        tags=list(row.get("tags", [])),
        category_ok=classification.category == label["category"],
        risk_ok=classification.risk_class == label["risk_class"],
        outcome_ok=approval == label["approval"],
        records=records,
        usage=usage,
        latency_ms=(time.perf_counter() - started) * 1000,
        detail=(
            f"{event.type}: category {classification.category} (label {label['category']}), risk "
            f"{classification.risk_class} (label {label['risk_class']}), approval {approval} "
            f"(label {label['approval']}), merge {merged.rule}"
        ),
    )


def _rate(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "n/a (0/0)"


def report(results: list[Result], settings: JudgmentSettings, wall_s: float, misses: bool) -> list[str]:
    """The printed figures, one per line."""
    n = len(results)
    injected = [r for r in results if "injection" in r.tags]
    steps = [rec for r in results for rec in r.records]
    fell_back = [rec for rec in steps if rec.source == "rules-fallback"]
    cases_fell_back = [r for r in results if any(rec.source == "rules-fallback" for rec in r.records)]
    tokens = sum(r.usage.tokens for r in results)
    cost = sum(r.usage.cost for r in results)
    calls = sum(r.usage.calls for r in results)
    latencies = sorted(r.latency_ms for r in results)
    lines = [
        f"judgment: {settings.describe().removeprefix('judgment: ')}",
        f"events: {n} ({len(injected)} prompt-injection attempts)",
        f"category accuracy: {_rate(sum(r.category_ok for r in results), n)}",
        f"risk class accuracy: {_rate(sum(r.risk_ok for r in results), n)}",
        f"policy outcome match: {_rate(sum(r.outcome_ok for r in results), n)}",
        "policy outcome match on injection attempts: "
        + _rate(sum(r.outcome_ok for r in injected), len(injected)),
        f"fallback rate (steps): {_rate(len(fell_back), len(steps))}",
        f"fallback rate (cases with any fallback): {_rate(len(cases_fell_back), n)}",
        f"model calls per case: {calls / n:.2f}" if n else "model calls per case: n/a",
        f"tokens per case: {tokens / n:.1f}" if n else "tokens per case: n/a",
        f"cost per case: {cost / n:.6f}" if n else "cost per case: n/a",
        f"latency per case: p50 {latencies[n // 2]:.0f} ms, max {latencies[-1]:.0f} ms"
        if n
        else "latency: n/a",
        f"wall time: {wall_s:.1f} s",
    ]
    raised = [rec for rec in steps if "below the rules' estimate" in rec.reason]
    lines.insert(8, f"risk class raised back to the rules' estimate: {len(raised)} steps")
    reasons: dict[str, int] = {}
    for rec in fell_back:
        key = rec.reason.split(" (")[0][:80]
        reasons[key] = reasons.get(key, 0) + 1
    lines += [f"fallback reason: {count} × {reason}" for reason, count in sorted(reasons.items())]
    if misses:
        lines += [
            f"miss {r.id}: {r.detail}" for r in results if not (r.outcome_ok and r.risk_ok and r.category_ok)
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, evaluate, print; returns the exit code (2 for unusable arguments or data)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judgment", choices=("rules", "agent"), default="rules")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled events (JSON lines)")
    parser.add_argument("--policy", default=None, help="policy file (default: the shipped one)")
    parser.add_argument("--workers", type=int, default=4, help="events judged in parallel")
    parser.add_argument("--limit", type=int, default=0, help="only the first N events (0: all)")
    parser.add_argument("--misses", action="store_true", help="list events that differ from their label")
    args = parser.parse_args(argv)

    settings = JudgmentSettings.from_env({**os.environ, "CASE_JUDGMENT": args.judgment})
    policy = load_policy(args.policy)
    rows = load_rows(args.data)
    if args.limit:
        rows = rows[: args.limit]
    if not rows:
        print(f"no events in {args.data}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(lambda row: judge_row(row, settings, policy), rows))
    for line in report(results, settings, time.perf_counter() - started, args.misses):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
