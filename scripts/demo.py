"""Demo loader: post a handful of sample events to a running app and print what happened and where to look.

    python scripts/demo.py http://127.0.0.1:7071          # against any running app
    DEVHOST_DEMO=scripts.demo:run  (app setting)           # `make run` calls run(base_url) once ready

Sends real inputs: a plain JSON order cancellation (runs automatically), a CloudEvent refund built with the
``cloudevents`` SDK (structured mode), a real GitHub ``deployment`` webhook example from
``node_modules/@octokit/webhooks-examples`` signed with the app setting ``GITHUB_WEBHOOK_SECRET`` (production:
waits for an approver), an account change (waits for an approver) and a large payment release (needs two
approvers). Event ids are fixed, so a rerun opens no new case. Once every case has settled it prints, under
the heading ``Demo summary``, each case's stage, what the GitHub tool does locally (the local sink when
``CASE_TOOL_SINK`` lists it: approving completes the case offline) and the commands to go on (principal
headers from ``python -m devhost principal``, approve the GitHub case, read it). The app never imports this
module.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
#: Fixed event ids: rerunning the demo (every `make run`) redelivers the same events, which find the cases
#: they opened before (the case id derives from the event's source and id) and change nothing.
RUN_ID = "1"
ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


def principal_headers(name: str, *roles: str) -> dict[str, str]:
    """The App Service Authentication headers a signed-in ``name`` with ``roles`` would carry."""
    claims = [{"typ": NAME_TYP, "val": name}] + [{"typ": ROLE_TYP, "val": r} for r in roles]
    document = {"auth_typ": "aad", "name_typ": NAME_TYP, "role_typ": ROLE_TYP, "claims": claims}
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(document).encode()).decode(),
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
    }


def _github_delivery(event: str, action: str, secret: str) -> tuple[dict[str, str], bytes] | None:
    from shared.normalize.github import sign

    if not EXAMPLES.exists():
        return None
    for entry in json.loads(EXAMPLES.read_text(encoding="utf-8")):
        if entry["name"] == event:
            payload = next((p for p in entry["examples"] if p.get("action") == action), None)
            if payload is not None:
                body = json.dumps(payload).encode()
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": event,
                    "X-GitHub-Delivery": f"demo-{event}-{action}-1",
                    "X-Hub-Signature-256": sign(secret, body),
                }
                return headers, body
    return None


def _cloudevent(run_id: str) -> tuple[dict[str, str], bytes]:
    from cloudevents.core.bindings.http import to_structured_event
    from cloudevents.core.v1.event import CloudEvent

    event = CloudEvent(
        attributes={
            "id": f"demo-refund-{run_id}",
            "source": "/demo/shop",
            "type": "refund.request",
            "subject": "order-1001",
            "requester": "alice",
        },
        data={"amount": 45, "currency": "EUR", "reason": "damaged"},
    )
    message = to_structured_event(event)
    return dict(message.headers), message.body


def _plain(
    run_id: str, name: str, type_: str, requester: str, subject: str, **data: Any
) -> tuple[dict, bytes]:
    body = {
        "id": f"demo-{name}-{run_id}",
        "type": type_,
        "requester": requester,
        "subject": subject,
        "source": "demo",
        "data": data,
    }
    return {"Content-Type": "application/json"}, json.dumps(body).encode()


def samples(run_id: str, secret: str | None) -> list[tuple[str, tuple[dict[str, str], bytes]]]:
    """``[(label, (headers, body))]`` of the demo events."""
    items = [
        (
            "plain order.cancel (write: automatic)",
            _plain(run_id, "cancel", "order.cancel", "alice", "order-1001"),
        ),
        ("CloudEvent refund.request of 45 EUR (write: automatic)", _cloudevent(run_id)),
        (
            "plain account.change (privileged: one approver)",
            _plain(run_id, "account", "account.change", "alice", "account-7", field="iban"),
        ),
        (
            "plain payment.release of 25000 EUR (irreversible: two approvers)",
            _plain(run_id, "payment", "payment.release", "alice", "invoice-77", amount=25000, currency="EUR"),
        ),
    ]
    if secret:
        delivery = _github_delivery("deployment", "created", secret)
        if delivery:
            items.append(("GitHub deployment to production (signed webhook: one approver)", delivery))
    return items


def _settled(view: dict) -> bool:
    """The case ended, or waits for approval with its request published (``pendingApproval``: the stage
    changes before the approvers are notified and the request is listed)."""
    if view.get("stage") == "awaiting_approval":
        return bool(view.get("pendingApproval"))
    return view.get("stage") in ("completed", "rejected", "failed", "expired")


HEADING = "Demo summary"
SINK_NOTE = ("  GitHub tool: local sink (CASE_TOOL_SINK): approving the deployment case completes it and "
             "records the status it would post; nothing is sent to GitHub.")
REAL_NOTE = ("  GitHub tool: the real API (CASE_TOOL_SINK unset): approving posts a deployment status with "
             "GITHUB_TOKEN.")
APPROVE_BODY = '{"decision": "approve", "reason": "looks right"}'
RULE = "=" * 100


def _wait_settled(http: httpx.Client, base: str, cases: list[tuple[str, str]], reader: dict[str, str],
                  timeout_s: float = 20.0) -> dict[str, dict]:
    """Poll each case until all are settled (see :func:`_settled`) or ``timeout_s`` passed; the views."""
    deadline = time.monotonic() + timeout_s
    views: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for _, case_id in cases:
            r = http.get(f"{base}/api/cases/{case_id}", headers=reader)
            if r.status_code == 200:
                views[case_id] = r.json()
        if len(views) == len(cases) and all(_settled(v) for v in views.values()):
            break
        time.sleep(0.3)
    return views


def run(base_url: str) -> None:
    """Post the samples to ``base_url``, wait until each case settles, then print the summary under a
    ``Demo summary`` heading: each case's stage, what the GitHub tool does locally, and commands to go on."""
    base = base_url.rstrip("/")
    secret = os.environ.get("GITHUB_WEBHOOK_SECRET")
    sink = "github-deployment-status" in (os.environ.get("CASE_TOOL_SINK") or "")
    reader = principal_headers("demo-auditor", "auditor")
    cases: list[tuple[str, str]] = []
    refused: list[str] = []
    items = samples(RUN_ID, secret)
    with httpx.Client(timeout=30) as http:
        print(f"\n== demo: sending {len(items)} sample events to {base}/api/events "
              "(each case's stage changes follow)", flush=True)
        for label, (headers, body) in items:
            r = http.post(f"{base}/api/events", content=body, headers=headers)
            case_id = r.json().get("instanceId") if r.status_code == 202 else None
            if case_id:
                cases.append((label, case_id))
            else:
                refused.append(f"  {r.status_code}  {label}  {r.text[:200]}")
        views = _wait_settled(http, base, cases, reader)
    title = f"{HEADING}: {len(cases)} case(s) (fixed event ids: a rerun finds the same cases)"
    lines = ["", f"==== {title} ===="]
    for label, case_id in cases:
        view = views.get(case_id, {})
        pending = view.get("pendingApproval") or {}
        extra = f" (waiting for {', '.join(pending.get('roles', []))})" if pending else ""
        lines.append(f"  {view.get('stage', '?'):<18} {case_id}  {label}{extra}")
    lines += refused
    github = next((c for label, c in cases if label.startswith("GitHub")), None)
    if github:
        lines.append(SINK_NOTE if sink else REAL_NOTE)
    waiting = [c for _, c in cases if views.get(c, {}).get("stage") == "awaiting_approval"]
    target = github if github in waiting else (waiting[0] if waiting else None)
    lines += ["Try it (another terminal, repository root):",
              "  .venv/bin/python -m devhost principal bob --role approver > bob.headers",
              f"  curl -s {base}/api/approvals -H @bob.headers"]
    if target:
        lines.append(
            f"  curl -s -X POST {base}/api/cases/{target}/decision -H @bob.headers "
            f"-H 'Content-Type: application/json' -d '{APPROVE_BODY}'"
        )
        lines.append(f"  curl -s {base}/api/cases/{target} -H @bob.headers")
    lines += ["  .venv/bin/python -m devhost instances          # every instance with its stage",
              "  Audit trail: GET /api/cases/{id}/audit; notifications: queue case-notifications; docs: "
              "docs/app-workflow.md",
              RULE, ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    run(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7071")
