"""Demo loader: post a handful of sample events to a running app and print what happened and where to look.

    python scripts/demo.py http://127.0.0.1:7071          # against any running app
    DEVHOST_DEMO=scripts.demo:run  (app setting)           # `make run` calls run(base_url) once ready

Sends real inputs: a plain JSON order cancellation (runs automatically), a CloudEvent refund built with the
``cloudevents`` SDK (structured mode), a real GitHub ``deployment`` webhook example from
``node_modules/@octokit/webhooks-examples`` signed with the app setting ``GITHUB_WEBHOOK_SECRET`` (production:
waits for an approver), an account change (waits for an approver) and a large payment release (needs two
approvers). Then it prints each case's stage and the curl commands to list pending approvals, approve one
with principal headers, and read a timeline and audit trail. The app never imports this module.
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


def run(base_url: str) -> None:
    """Post the samples to ``base_url`` and print each case's stage and where to look."""
    base = base_url.rstrip("/")
    secret = os.environ.get("GITHUB_WEBHOOK_SECRET")
    reader = principal_headers("demo-viewer", "viewer")
    run_id = RUN_ID
    cases: list[tuple[str, str]] = []
    with httpx.Client(timeout=30) as http:
        print(f"\n== demo: sending sample events to {base}/api/events")
        for label, (headers, body) in samples(run_id, secret):
            r = http.post(f"{base}/api/events", content=body, headers=headers)
            case_id = r.json().get("instanceId") if r.status_code == 202 else None
            print(f"  {r.status_code}  {label}" + (f"  -> {case_id}" if case_id else f"  {r.text[:200]}"))
            if case_id:
                cases.append((label, case_id))
        deadline = time.monotonic() + 15
        views: dict[str, dict] = {}
        while time.monotonic() < deadline:
            for _, case_id in cases:
                r = http.get(f"{base}/api/cases/{case_id}", headers=reader)
                if r.status_code == 200:
                    views[case_id] = r.json()
            if all(_settled(v) for v in views.values()) and len(views) == len(cases):
                break
            time.sleep(0.3)
        print("\n== demo: where each case is now")
        for label, case_id in cases:
            view = views.get(case_id, {})
            pending = view.get("pendingApproval") or {}
            extra = f" (waiting for {', '.join(pending.get('roles', []))})" if pending else ""
            print(f"  {view.get('stage', '?'):<18} {case_id}  {label}{extra}")
    waiting = [c for _, c in cases if views.get(c, {}).get("stage") == "awaiting_approval"]
    bob = principal_headers("bob", "approver")
    print("\n== demo: try it (principal headers stand in for App Service Authentication)")
    print(
        f"  curl -s {base}/api/approvals -H 'X-MS-CLIENT-PRINCIPAL-NAME: bob' "
        f"-H 'X-MS-CLIENT-PRINCIPAL: {bob['X-MS-CLIENT-PRINCIPAL']}'"
    )
    if waiting:
        print(
            f"  curl -s -X POST {base}/api/cases/{waiting[0]}/decision -H 'Content-Type: application/json' "
            f"-H 'X-MS-CLIENT-PRINCIPAL-NAME: bob' "
            f"-H 'X-MS-CLIENT-PRINCIPAL: {bob['X-MS-CLIENT-PRINCIPAL']}' "
            '-d \'{"decision": "approve", "reason": "looks right"}\''
        )
    if cases:
        print(f"  curl -s {base}/api/cases/{cases[0][1]} -H 'X-MS-CLIENT-PRINCIPAL-NAME: bob'")
        print(f"  curl -s {base}/api/cases/{cases[0][1]}/audit -H 'X-MS-CLIENT-PRINCIPAL-NAME: bob'")
    print(
        "  notifications: queue CASE_NOTIFICATIONS_QUEUE (default case-notifications) in Azurite;"
        " audit trail: blob container case-audit; ledger: table caseledger"
    )
    print("  docs: docs/app-workflow.md\n")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    run(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7071")
