"""Operator commands for a running devhost, over the public Durable HTTP API.

``python -m devhost instances [--status S] [--name N]`` (with a STAGE column: the custom status's
``stage`` when it has one), ``show ID``, ``raise ID EVENT [JSON]``,
``terminate ID [--reason R]``, ``purge ID``. Each talks to ``--url`` (default ``$DEVHOST_URL`` or
``http://127.0.0.1:7071``) with httpx, the way one would with curl against ``func start``
(https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api). When devhost is not
running the command prints one line and exits 1.

:func:`register` adds the subcommands to devhost's argparse parser (``devhost/cli.py``); each sets
``handler`` to a function ``(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO
from urllib.parse import quote

import httpx

from devhost.errors import DevhostError

DEFAULT_URL = "http://127.0.0.1:7071"
API = "/runtime/webhooks/durabletask"
TIMEOUT_S = 10.0
#: The runtime status names the Durable HTTP API filters on (DTFx ``OrchestrationStatus``).
RUNTIME_STATUSES = ("Running", "Pending", "Suspended", "Completed", "Failed", "Terminated", "ContinuedAsNew",
                    "Canceled")


class CliError(DevhostError):
    """A one-line error for the operator; the command exits 1."""


def register(subparsers: Any, environ: Mapping[str, str] | None = None) -> None:
    """Add ``instances``, ``show``, ``raise``, ``terminate``, ``purge`` to an argparse subparsers object."""
    env = os.environ if environ is None else environ
    default_url = env.get("DEVHOST_URL") or DEFAULT_URL

    def add(name: str, help_text: str, handler: Callable[[argparse.Namespace, TextIO], int]):
        p = subparsers.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--url", default=default_url,
                       help=f"devhost base URL (default: $DEVHOST_URL or {DEFAULT_URL})")
        p.set_defaults(handler=lambda args: run(handler, args))
        return p

    p = add("instances", "list orchestration instances", cmd_instances)
    p.add_argument("--status", action="append", default=[],
                   help="runtime status (" + ", ".join(RUNTIME_STATUSES) + "); repeatable or "
                        "comma-separated, case-insensitive")
    p.add_argument("--name", help="only instances of this orchestrator")
    p.add_argument("--prefix", help="only instance ids starting with this prefix")
    p.add_argument("--json", action="store_true", help="print the raw JSON array")

    p = add("show", "show an instance's status and history timeline", cmd_show)
    p.add_argument("instance_id")
    p.add_argument("--json", action="store_true", help="print the raw status JSON")

    p = add("raise", "raise an external event on an instance", cmd_raise)
    p.add_argument("instance_id")
    p.add_argument("event")
    p.add_argument("data", nargs="?", default="null", help="event data as JSON (default: null)")

    p = add("terminate", "terminate a running instance", cmd_terminate)
    p.add_argument("instance_id")
    p.add_argument("--reason", default="terminated by operator")

    p = add("purge", "delete a finished instance and its history", cmd_purge)
    p.add_argument("instance_id")


def run(handler: Callable[[argparse.Namespace, TextIO], int], args: argparse.Namespace,
        out: TextIO | None = None) -> int:
    """Run one command; connection failures and CliError become ``error: …`` on stderr and exit 1."""
    try:
        return handler(args, out or sys.stdout)
    except httpx.ConnectError:
        print(f"error: devhost is not running at {args.url} (start it with: python -m devhost start)",
              file=sys.stderr)
    except httpx.TimeoutException:
        print(f"error: devhost at {args.url} did not answer within {TIMEOUT_S:.0f} s", file=sys.stderr)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def _request(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=args.url.rstrip("/") + API, timeout=TIMEOUT_S) as client:
        return client.request(method, path, **kwargs)


def _unexpected(response: httpx.Response) -> CliError:
    text = response.text.strip().replace("\n", " ")
    return CliError(f"devhost answered {response.status_code}: {text[:300]}")


# -- commands ---------------------------------------------------------------------------------------------
def cmd_instances(args: argparse.Namespace, out: TextIO) -> int:
    """List instances (every page), newest last, as a table or JSON."""
    params: dict[str, str] = {"showInput": "false"}
    statuses = _runtime_statuses(args.status)
    if statuses:
        params["runtimeStatus"] = ",".join(statuses)
    if args.prefix:
        params["instanceIdPrefix"] = args.prefix
    rows: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    while True:
        response = _request(args, "GET", "/instances/", params=params, headers=headers)
        if response.status_code != 200:
            raise _unexpected(response)
        rows.extend(response.json())
        token = response.headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    if args.name:
        rows = [r for r in rows if r.get("name") == args.name]
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    if not rows:
        print("no instances", file=out)
        return 0
    table = [("INSTANCE ID", "NAME", "STATUS", "STAGE", "CREATED", "UPDATED")] + [
        (r["instanceId"], r.get("name") or "", r.get("runtimeStatus") or "", stage_of(r),
         r.get("createdTime") or "", r.get("lastUpdatedTime") or "") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return 0


def _runtime_statuses(values: list[str]) -> list[str]:
    """``--status`` values (repeatable, comma-separated, any case) → canonical names. Raises CliError
    naming the valid ones for an unknown name (the HTTP API would silently ignore it and list everything)."""
    known = {name.lower(): name for name in RUNTIME_STATUSES}
    found: list[str] = []
    for value in values:
        for name in (part.strip() for part in value.split(",")):
            if not name:
                continue
            if name.lower() not in known:
                expected = ", ".join(RUNTIME_STATUSES)
                raise CliError(f"unknown runtime status {name!r}; expected one of {expected}")
            found.append(known[name.lower()])
    return found


def stage_of(row: Mapping[str, Any]) -> str:
    """The ``stage`` of an instance's custom status (a JSON object with a ``stage`` key), else ``-``."""
    custom = row.get("customStatus")
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            return "-"
    stage = custom.get("stage") if isinstance(custom, dict) else None
    return str(stage) if stage else "-"


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    """Status fields, then one line per history event."""
    response = _request(args, "GET", f"/instances/{quote(args.instance_id, safe='')}",
                        params={"showHistory": "true", "showHistoryOutput": "true"})
    if response.status_code == 404:
        raise CliError(f"no instance with ID '{args.instance_id}'")
    if response.status_code not in (200, 202, 500):
        raise _unexpected(response)
    status = response.json()
    if args.json:
        print(json.dumps(status, indent=2), file=out)
        return 0
    for label, key in (("instance", "instanceId"), ("name", "name"), ("status", "runtimeStatus"),
                       ("created", "createdTime"), ("updated", "lastUpdatedTime"), ("input", "input"),
                       ("custom status", "customStatus"), ("output", "output")):
        value = status.get(key)
        if value is not None:
            shown = value if isinstance(value, str) and key not in ("input", "output", "customStatus") \
                else json.dumps(value)
            print(f"{label + ':':15}{shown}", file=out)
    events = status.get("historyEvents") or []
    if events:
        print("history:", file=out)
        for event in events:
            print("  " + describe_event(event), file=out)
    return 0


def describe_event(event: Mapping[str, Any]) -> str:
    """One readable timeline line for a status API history event (``historyEvents`` element)."""
    kind = str(event.get("EventType"))
    stamp = str(event.get("Timestamp") or "")[:23].replace("T", " ")
    name = event.get("FunctionName") or event.get("Name")
    parts: list[str] = [kind]
    if name:
        parts.append(str(name))
    if kind == "ExecutionCompleted":
        parts.append(str(event.get("OrchestrationStatus")))
    for key, label in (("FireAt", "fires at"), ("InstanceId", "instance"), ("Reason", "reason")):
        if event.get(key):
            parts.append(f"{label} {event[key]}")
    if kind in ("ExecutionStarted", "EventRaised", "ContinueAsNew") and "Input" in event:
        parts.append(f"input {_short(event['Input'])}")
    if kind == "ExecutionTerminated" and event.get("Input"):
        parts.append(f"reason {_short(event['Input'])}")
    if "Result" in event:
        parts.append(f"-> {_short(json.dumps(event['Result']))}")
    if kind.endswith("Failed") and event.get("Details"):
        parts.append(f"details {_short(event['Details'])}")
    return f"{stamp:23}  " + "  ".join(parts)


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cmd_raise(args: argparse.Namespace, out: TextIO) -> int:
    """POST raiseEvent with the JSON data (validated here first)."""
    try:
        json.loads(args.data)
    except ValueError as exc:
        raise CliError(f"event data is not valid JSON: {exc}") from exc
    response = _request(args, "POST", f"/instances/{quote(args.instance_id, safe='')}/raiseEvent/"
                        f"{quote(args.event, safe='')}", content=args.data.encode(),
                        headers={"Content-Type": "application/json"})
    _instance_answer(response, args.instance_id)
    print(f"raised event '{args.event}' on {args.instance_id}", file=out)
    return 0


def cmd_terminate(args: argparse.Namespace, out: TextIO) -> int:
    """``terminate ID [--reason R]``: POST the instance's terminate URL. Raises CliError on 404/410."""
    response = _request(args, "POST", f"/instances/{quote(args.instance_id, safe='')}/terminate",
                        params={"reason": args.reason})
    _instance_answer(response, args.instance_id)
    print(f"terminating {args.instance_id}", file=out)
    return 0


def cmd_purge(args: argparse.Namespace, out: TextIO) -> int:
    """``purge ID``: DELETE the instance's history. Raises CliError on 404, 412 (not finished) or any other
    failure."""
    response = _request(args, "DELETE", f"/instances/{quote(args.instance_id, safe='')}")
    if response.status_code == 404:
        raise CliError(f"no instance with ID '{args.instance_id}'")
    if response.status_code == 412:
        raise CliError(str(response.json()))
    if response.status_code != 200:
        raise _unexpected(response)
    print(f"purged {args.instance_id} ({response.json().get('instancesDeleted', 0)} instance)", file=out)
    return 0


def _instance_answer(response: httpx.Response, instance_id: str) -> None:
    if response.status_code == 202:
        return
    if response.status_code == 404:
        raise CliError(f"no instance with ID '{instance_id}'")
    if response.status_code == 410:
        raise CliError(f"instance '{instance_id}' has already finished")
    raise _unexpected(response)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m devhost.durable.cli``); ``python -m devhost`` has the same commands."""
    parser = argparse.ArgumentParser(prog="python -m devhost.durable.cli",
                                     description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
