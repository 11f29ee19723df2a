"""The SLO report: ``python -m tools.report`` computes the service level figures of the case workflow from
case statuses and audit trails and marks every figure past its threshold (the policy's ``slo:`` section).

    python -m tools.report --taskhub .devhost/taskhub.sqlite      # statuses from a devhost task hub
    python -m tools.report --url https://<app> --code <key>        # statuses from the Durable HTTP API
    python -m tools.report --cases cases.json                      # a saved data set (statuses + audit)

Audit trails are read from the app's audit container with the app's storage settings
(``AzureWebJobsStorage`` or the identity-based ``AzureWebJobsStorage__*``, ``CASE_AUDIT_CONTAINER``; from the
environment, else ``local.settings.json``); ``--no-audit`` skips them (time to decision and reject rate are
then empty). ``--policy`` picks the policy file (default: ``CASE_POLICY_PATH`` or the shipped one),
``--now`` the end of the window (ISO UTC, default now), ``--json`` prints JSON, ``--fail-on-breach`` exits 1
when a figure breaches. Definitions: ``tools/slo_figures.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.policy import load_policy
from tools.slo_figures import CaseData, Figure, compute

ROOT = Path(__file__).resolve().parent.parent
CASE_WORKFLOW = "case_workflow"


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _status(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def cases_from_file(path: Path | str) -> list[CaseData]:
    """A saved data set: a JSON list of ``{instanceId, runtimeStatus, createdTime, lastUpdatedTime,
    customStatus, audit: [{kind, at, data}]}`` (the status API's field names)."""
    return [
        CaseData(
            instance_id=item["instanceId"],
            runtime_status=item["runtimeStatus"],
            created=_time(item["createdTime"]),
            updated=_time(item.get("lastUpdatedTime") or item["createdTime"]),
            status=_status(item.get("customStatus")),
            audit=list(item.get("audit") or []),
        )
        for item in json.loads(Path(path).read_text())
        if item.get("name", CASE_WORKFLOW) == CASE_WORKFLOW
    ]


def statuses_from_taskhub(path: str, hub: str) -> Iterator[dict[str, Any]]:
    """Every ``case_workflow`` instance of a devhost task hub file (opened read-only), in the status API's
    field names."""
    from tools.history_sources import SourceError, read_taskhub

    try:
        for s, _ in read_taskhub(path, hub, with_history=False):
            if s.name == CASE_WORKFLOW:
                yield {
                    "instanceId": s.instance_id,
                    "runtimeStatus": s.runtime_status,
                    "createdTime": s.created_time,
                    "lastUpdatedTime": s.last_updated_time,
                    "customStatus": s.custom_status,
                }
    except SourceError as exc:
        raise SystemExit(f"report: {exc}") from exc


def statuses_from_http(
    base_url: str, code: str | None, headers: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    """Every ``case_workflow`` instance listed by the Durable HTTP API (``GET …/instances``, paged)."""
    import httpx

    url = base_url.rstrip("/") + "/runtime/webhooks/durabletask/instances"
    params = {"top": "200", **({"code": code} if code else {})}
    token: str | None = None
    with httpx.Client(timeout=30, headers=dict(headers)) as client:
        while True:
            r = client.get(url, params=params, headers={"x-ms-continuation-token": token} if token else {})
            r.raise_for_status()
            for item in r.json():
                if item.get("name") == CASE_WORKFLOW:
                    yield item
            token = r.headers.get("x-ms-continuation-token")
            if not token or token == "null":
                break


def _settings_env() -> dict[str, str]:
    local = ROOT / "local.settings.json"
    values: dict[str, str] = {}
    if local.is_file():
        values.update(json.loads(local.read_text()).get("Values") or {})
    values.update(os.environ)
    return values


def with_audit(items: list[dict[str, Any]]) -> list[CaseData]:
    """Status items joined with their audit trails read from storage (``shared.audit.read``)."""
    from shared import audit
    from shared.settings import AppSettings

    settings = AppSettings.from_env(_settings_env())
    out = []
    for item in items:
        records = [r.model_dump(mode="json") for r in audit.read(settings, item["instanceId"])]
        out.append(
            CaseData(
                item["instanceId"],
                item["runtimeStatus"],
                _time(item["createdTime"]),
                _time(item.get("lastUpdatedTime") or item["createdTime"]),
                _status(item.get("customStatus")),
                records,
            )
        )
    return out


def render(figures: list[Figure], now: datetime, window_s: int) -> str:
    """The report as text: one line per figure, ``BREACH`` marked."""

    def show(value: float | None, unit: str) -> str:
        if value is None:
            return "-"
        return f"{value:.1%}" if unit == "ratio" else f"{value:.1f} {unit}" if unit == "s" else f"{value:.4g}"

    lines = [f"SLO report, {window_s} s window ending {now.isoformat()}"]
    for f in figures:
        limit = (
            "" if f.threshold is None else f"{'>=' if f.kind == 'min' else '<='} {show(f.threshold, f.unit)}"
        )
        mark = "BREACH" if f.breach else "ok"
        lines.append(f"{mark:6} {f.name:42} {show(f.value, f.unit):>12}  {limit:14} {f.detail}")
    breaches = sum(f.breach for f in figures)
    lines.append(f"{breaches} breach(es)")
    return "\n".join(lines)


def as_json(figures: list[Figure], now: datetime) -> str:
    """The report as JSON: ``{"now", "figures": [{name, value, threshold, kind, unit, breach, detail}]}``."""
    return json.dumps(
        {
            "now": now.isoformat(),
            "figures": [
                {
                    "name": f.name,
                    "value": f.value,
                    "threshold": f.threshold,
                    "kind": f.kind,
                    "unit": f.unit,
                    "breach": f.breach,
                    "detail": f.detail,
                }
                for f in figures
            ],
        },
        indent=2,
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring); 0, or 1 with ``--fail-on-breach`` and a breach."""
    p = argparse.ArgumentParser(prog="python -m tools.report", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", help="saved data set (JSON list of statuses with their audit records)")
    p.add_argument("--taskhub", help="devhost task hub SQLite file")
    p.add_argument("--hub", default="CaseWorkflowHub", help="task hub name (devhost)")
    p.add_argument("--url", help="base URL of a host exposing the Durable HTTP API")
    p.add_argument("--code", help="durabletask_extension system key for --url")
    p.add_argument("--header", action="append", default=[], help="extra header 'Name: value' for --url")
    p.add_argument("--no-audit", action="store_true", help="do not read audit trails")
    p.add_argument("--policy", help="policy file (default CASE_POLICY_PATH or the shipped one)")
    p.add_argument("--now", help="end of the window, ISO 8601 UTC (default: now)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--fail-on-breach", action="store_true", help="exit 1 when a figure breaches")
    args = p.parse_args(argv)
    if not (args.cases or args.taskhub or args.url):
        p.error("give --cases, --taskhub or --url")
    targets = load_policy(args.policy or os.environ.get("CASE_POLICY_PATH") or None).slo
    now = _time(args.now) if args.now else datetime.now(UTC)
    cases: list[CaseData] = []
    if args.cases:
        cases += cases_from_file(args.cases)
    items: list[dict[str, Any]] = []
    if args.taskhub:
        items += list(statuses_from_taskhub(args.taskhub, args.hub))
    if args.url:
        headers = dict(tuple(part.strip() for part in h.split(":", 1)) for h in args.header)
        items += list(statuses_from_http(args.url, args.code, headers))
    if items and args.no_audit:
        cases += [
            CaseData(
                i["instanceId"],
                i["runtimeStatus"],
                _time(i["createdTime"]),
                _time(i.get("lastUpdatedTime") or i["createdTime"]),
                _status(i.get("customStatus")),
            )
            for i in items
        ]
    elif items:
        cases += with_audit(items)
    figures = compute(cases, targets, now)
    print(as_json(figures, now) if args.json else render(figures, now, targets.window_s))
    return 1 if args.fail_on_breach and any(f.breach for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
