"""Where the replay gate reads instance histories from: a devhost task hub file, the Durable HTTP API of any
host, or history files. Each source yields :class:`InstanceHistory` (DTFx-shaped events, int ``EventType``).

- **devhost task hub** (``.devhost/taskhub.sqlite``): the stored history as is, read-only (the file may
  belong to a running host), open instances only (Running, Pending, Suspended).
- **Durable HTTP API** (``GET /runtime/webhooks/durabletask/instances?runtimeStatus=…`` then
  ``…/instances/{id}?showHistory=true&showHistoryOutput=true&showInput=true``, documented at
  https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api): that history is
  lossy (no sequence numbers, OrchestratorStarted/Completed removed, each TaskScheduled merged into its
  completion as ``FunctionName`` + ``ScheduledTime``), so :func:`from_status_history` rebuilds the DTFx form:
  schedule events ordered by time get sequence numbers, completions point at them, and episodes are
  reconstructed from the schedule times (each batch of events scheduled at one instant is one episode).
  Events scheduled at the very same instant (devhost's virtual clock; on Azure each has its own timestamp)
  keep no order: they are marked (``_TieGroup``) and the gate takes the code's order inside such a batch,
  so a reorder inside one fan-out is only seen from a task hub file or golden files.
- **history files** (any status): a golden document ``{"orchestrator", "instance_id", "history"}`` as
  ``tests/golden/capture.py`` writes it, or a saved status response with ``historyEvents``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.durable import history as h
from devhost.durable.models import InstanceState
from devhost.durable.status_payload import EVENT_TYPE_NAMES, WEBHOOK_PATH

OPEN_STATUSES = ("Running", "Pending", "Suspended")
_TYPES = {name: index for index, name in enumerate(EVENT_TYPE_NAMES)}
_COMPLETIONS = {
    "TaskCompleted": "TaskScheduled",
    "TaskFailed": "TaskScheduled",
    "SubOrchestrationInstanceCompleted": "SubOrchestrationInstanceCreated",
    "SubOrchestrationInstanceFailed": "SubOrchestrationInstanceCreated",
}
_SCHEDULES = ("TaskScheduled", "SubOrchestrationInstanceCreated", "TimerCreated")
#: Marks schedule events that share one timestamp (value: the group's first sequence number).
TIE_KEY = "_TieGroup"

Event = dict[str, Any]


class SourceError(RuntimeError):
    """A source cannot be read (missing file, HTTP error, unknown format); the message says which."""


@dataclass(frozen=True)
class InstanceHistory:
    """One instance to replay: orchestrator ``name``, ``instance_id``, ``runtime_status`` (as the source
    reported it; ``None`` for files), ``history`` (DTFx events) and ``origin`` (file path or URL)."""

    name: str
    instance_id: str
    runtime_status: str | None
    history: list[Event]
    origin: str
    parent_instance_id: str | None = None


# ------------------------------------------------------------------------------------------ devhost hub
def read_taskhub(
    path: Path | str, hub: str, statuses: Iterable[str] | None = None, *, with_history: bool = True
) -> Iterator[tuple[InstanceState, list[Event]]]:
    """``(instance, history)`` of every instance of task hub ``hub`` in the devhost SQLite file ``path``
    (``statuses``: only those runtime statuses; ``with_history=False``: empty histories), oldest first.

    Opens the file **read-only** (``mode=ro``), never through ``SqliteStore``, whose opening runs the schema
    script and whose closing checkpoints the WAL: the file may belong to a running host. Rows are mapped
    with the store's own row mapping. Raises :class:`SourceError` when the file does not exist or is not a
    task hub."""
    from devhost.durable.sqlite_rows import COLUMNS, row_state

    file = Path(path)
    if not file.is_file():
        raise SourceError(f"task hub file {file} does not exist")
    wanted = list(statuses or [])
    where = "hub=?" + (f" AND runtime_status IN ({','.join('?' * len(wanted))})" if wanted else "")
    try:
        db = sqlite3.connect(f"file:{file}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open task hub file {file}: {exc}") from exc
    try:
        rows = db.execute(
            f"SELECT {COLUMNS} FROM instances WHERE {where} ORDER BY created_time, instance_id",
            [hub, *wanted],
        ).fetchall()
        for row in rows:
            state = row_state(row)
            history: list[Event] = []
            if with_history:
                history = [
                    json.loads(r[0])
                    for r in db.execute(
                        "SELECT event FROM history WHERE hub=? AND instance_id=? ORDER BY seq",
                        (hub, state.instance_id),
                    )
                ]
            yield state, history
    except sqlite3.Error as exc:
        raise SourceError(f"task hub file {file}: {exc}") from exc
    finally:
        db.close()


def from_taskhub(path: Path | str, hub: str) -> Iterator[InstanceHistory]:
    """Open instances (Running, Pending, Suspended) of task hub ``hub`` in the devhost SQLite file
    ``path`` (read-only, :func:`read_taskhub`)."""
    for state, history in read_taskhub(path, hub, OPEN_STATUSES):
        yield InstanceHistory(
            name=state.name,
            instance_id=state.instance_id,
            runtime_status=state.runtime_status,
            history=history,
            origin=f"{path}#{hub}",
            parent_instance_id=state.parent_instance_id,
        )


# ------------------------------------------------------------------------------------------ HTTP API
def from_http(
    base_url: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> Iterator[InstanceHistory]:
    """Open instances of the host at ``base_url`` through its Durable HTTP API; ``code`` is the
    ``durabletask_extension`` system key (Azure) and ``headers`` extra request headers (e.g. a bearer token
    for App Service Authentication). Raises :class:`SourceError` on an HTTP or connection error."""
    import httpx

    root = base_url.rstrip("/") + WEBHOOK_PATH
    params: dict[str, str] = {"code": code} if code else {}
    with httpx.Client(timeout=timeout_s, headers=dict(headers or {})) as client:

        def get(url: str, query: dict[str, str], extra: dict[str, str] | None = None) -> httpx.Response:
            try:
                response = client.get(url, params={**params, **query}, headers=extra or {})
            except httpx.HTTPError as exc:
                raise SourceError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
            if response.status_code >= 400:
                raise SourceError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
            return response

        token: str | None = None
        while True:
            listing = get(
                f"{root}/instances",
                {"runtimeStatus": ",".join(OPEN_STATUSES), "top": "100"},
                {"x-ms-continuation-token": token} if token else None,
            )
            for item in listing.json():
                instance_id = item["instanceId"]
                detail = get(
                    f"{root}/instances/{instance_id}",
                    {"showHistory": "true", "showHistoryOutput": "true", "showInput": "true"},
                ).json()
                yield InstanceHistory(
                    name=detail.get("name") or item.get("name"),
                    instance_id=instance_id,
                    runtime_status=detail.get("runtimeStatus"),
                    history=from_status_history(
                        detail.get("historyEvents") or [],
                        instance_id,
                        stamped_version(detail.get("customStatus")),
                    ),
                    origin=f"{base_url} {instance_id}",
                )
            token = listing.headers.get("x-ms-continuation-token")
            if not token or token == "null":
                break


def _type_name(value: Any) -> str:
    if isinstance(value, int):
        return EVENT_TYPE_NAMES[value]
    return str(value)


def stamped_version(custom_status: Any) -> str | None:
    """The orchestration version an instance's custom status names (``orchestrationVersion``: the case's
    ``CaseStatus`` and the approval tier's progress stamp the version they were started with, since the
    status API does not report ``ExecutionStarted.Version``), or None when it names none (instances
    written before the stamp, other orchestrators). A wrong stamp can only make the gate fail: the
    instance is then replayed with that version alone."""
    if isinstance(custom_status, str):
        try:
            custom_status = json.loads(custom_status)
        except ValueError:
            return None
    if isinstance(custom_status, Mapping):
        version = custom_status.get("orchestrationVersion")
        if isinstance(version, str):
            return version
    return None


def from_status_history(
    events: list[Mapping[str, Any]], instance_id: str, version: str | None = None
) -> list[Event]:
    """Rebuild DTFx history events from the status API's ``historyEvents`` (see the module docstring);
    ``version``: the instance's orchestration version when known (:func:`stamped_version`), else None.

    Exact for what the gate compares (which activities, sub-orchestrations and timers were scheduled, in
    which order, with which results); the OrchestratorStarted times are the schedule times (timer fire times
    computed from ``current_utc_datetime`` may differ by the scheduling delay, so timers match by kind).
    """
    schedules: list[tuple[Any, int, Event]] = []
    received: list[tuple[Any, int, Event]] = []
    closing: list[Event] = []
    for order, raw in enumerate(events):
        kind = _type_name(raw.get("EventType"))
        stamp = str(raw.get("Timestamp") or "")
        event: Event = {"EventType": _TYPES[kind], "EventId": -1, "Timestamp": stamp}
        if kind == "ExecutionStarted":
            event.update(
                Name=raw.get("FunctionName"),
                Input=_text(raw.get("Input")),
                OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": ""},
                ParentInstance=None,
                Version=version,  # the status API does not tell it: None lets the gate try the known ones
            )
            received.append((_when(stamp), order, event))
        elif kind in _SCHEDULES:
            event.update({k: v for k, v in raw.items() if k not in ("EventType", "Timestamp")})
            if kind == "TaskScheduled" or kind == "SubOrchestrationInstanceCreated":
                event["Name"] = raw.get("Name") or raw.get("FunctionName")
            schedules.append((_when(stamp), order, event))
        elif kind in _COMPLETIONS:
            origin: Event = {
                "EventType": _TYPES[_COMPLETIONS[kind]],
                "EventId": -1,
                "Name": raw.get("FunctionName"),
                "Input": _text(raw.get("Input")),
                "Timestamp": str(raw.get("ScheduledTime") or stamp),
            }
            schedules.append((_when(origin["Timestamp"]), order, origin))
            event.update({k: v for k, v in raw.items() if k in ("Reason", "Details", "FailureDetails")})
            if "Result" in raw:
                event["Result"] = _text(raw["Result"])
            event["_origin"] = origin
            received.append((_when(stamp), order, event))
        elif kind in ("ExecutionCompleted", "ExecutionTerminated"):
            closing.append({**event, **{k: v for k, v in raw.items() if k in ("Result", "Input")}})
        else:  # TimerFired, EventRaised, ExecutionSuspended/Resumed, EventSent, …
            event.update({k: v for k, v in raw.items() if k not in ("EventType", "Timestamp")})
            received.append((_when(stamp), order, event))
    schedules.sort(key=lambda item: (item[0], item[1]))
    timers: dict[str, list[int]] = {}
    ties = [when for when, _, _ in schedules]
    for seq, (when, _, event) in enumerate(schedules):
        event["EventId"] = seq
        if ties.count(when) > 1:  # order inside the batch unknown: tools.replay_gate aligns it
            event[TIE_KEY] = ties.index(when)
        if event["EventType"] == h.TIMER_CREATED:
            timers.setdefault(str(event.get("FireAt"))[:19], []).append(seq)
    for _, _, event in received:
        origin = event.pop("_origin", None)
        if origin is not None:
            event["TaskScheduledId"] = origin["EventId"]
        elif event["EventType"] == h.TIMER_FIRED:
            ids = timers.get(str(event.get("FireAt"))[:19]) or [-1]
            event["TimerId"] = ids.pop(0)
    return _episodes(schedules, sorted(received, key=lambda item: (item[0], item[1])), closing)


def _episodes(
    schedules: list[tuple[Any, int, Event]], received: list[tuple[Any, int, Event]], closing: list[Event]
) -> list[Event]:
    groups: list[tuple[Any, list[Event]]] = []
    for when, _, event in schedules:
        if groups and groups[-1][0] == when:
            groups[-1][1].append(event)
        else:
            groups.append((when, [event]))
    out: list[Event] = []
    pending = list(received)
    for when, batch in groups:
        stamp = batch[0]["Timestamp"]
        taken = [e for w, _, e in pending if w <= when]
        pending = [item for item in pending if item[0] > when]
        out += [
            _marker(h.ORCHESTRATOR_STARTED, stamp),
            *taken,
            *batch,
            _marker(h.ORCHESTRATOR_COMPLETED, stamp),
        ]
    if pending or closing:
        rest = [e for _, _, e in pending]
        stamp = (rest or closing)[-1]["Timestamp"]
        out += [
            _marker(h.ORCHESTRATOR_STARTED, stamp),
            *rest,
            *closing,
            _marker(h.ORCHESTRATOR_COMPLETED, stamp),
        ]
    return out


def _marker(event_type: int, stamp: str) -> Event:
    return {"EventType": event_type, "EventId": -1, "Timestamp": stamp}


def _when(stamp: str) -> Any:
    try:
        return h.parse_timestamp(stamp)
    except (ValueError, TypeError):
        return h.parse_timestamp("1970-01-01T00:00:00Z")


def _text(value: Any) -> str | None:
    """A payload as the JSON text DTFx stores (strings that already hold JSON stay as they are)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


# ------------------------------------------------------------------------------------------ files
def from_file(path: Path | str) -> InstanceHistory:
    """One history file: a golden document or a saved status response (``historyEvents``). Raises
    :class:`SourceError` when it is neither."""
    file = Path(path)
    try:
        document = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(f"{file}: cannot read a JSON history: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("history"), list):
        return InstanceHistory(
            name=document["orchestrator"],
            instance_id=document["instance_id"],
            runtime_status=document.get("runtime_status"),
            history=document["history"],
            origin=str(file),
            parent_instance_id=document.get("parent_instance_id"),
        )
    if isinstance(document, dict) and isinstance(document.get("historyEvents"), list):
        instance_id = document.get("instanceId") or file.stem
        return InstanceHistory(
            name=document["name"],
            instance_id=instance_id,
            runtime_status=document.get("runtimeStatus"),
            history=from_status_history(
                document["historyEvents"], instance_id, stamped_version(document.get("customStatus"))
            ),
            origin=str(file),
        )
    raise SourceError(
        f"{file}: neither a golden history (orchestrator, instance_id, history) nor a status "
        "response with historyEvents"
    )
