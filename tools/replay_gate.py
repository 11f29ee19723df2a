"""The replay gate: would the code in this working tree break instances that are already running?

    python -m tools.replay_gate --taskhub .devhost/taskhub.sqlite [--hub CaseWorkflowHub]
    python -m tools.replay_gate --url https://<app>.azurewebsites.net --code <durabletask_extension key> \\
        [--header "Authorization: Bearer <token>"]
    python -m tools.replay_gate tests/golden/histories/*.json

Every open instance (Running, Pending, Suspended) of the live source, or every history file given by path
(whatever its status), is replayed against the orchestrators that this tree's ``function_app.py`` registers,
with the replay machinery devhost runs on (``devhost.durable.replay``: the trigger payload and the SDK's
real handler; ``devhost.durable.runtime_state.RuntimeState``: which history events are the scheduled
actions, retries included; ``devhost.durable.actions.matches``: the host's action/event comparison).
It prints one line per instance, ``ok`` or the first action that differs, with the version the instance
runs under (:attr:`GateResult.version_label`), then how many instances run under each version
(:func:`version_summary`: which versions' branches still have instances, see docs/deploy.md "Retiring an
orchestration version"), and exits 1 when any instance
would break (a differing or missing action, or the orchestrator raising while replaying), 2 when a source
cannot be read. A recorded output that differs from the replayed one is reported but does not fail the gate
(the instance does not break; its result was already delivered).

Orchestration versions: an instance replays with the version it was started with (``ExecutionStarted
.Version``, read by the orchestrator as ``context.version``). The Durable HTTP API does not report it; the
case's and the approval tier's custom status stamp it (``orchestrationVersion``,
``tools.history_sources.stamped_version``) and such an instance replays with that version alone. An instance
from there without the stamp is replayed with each version the app knows (unversioned and host.json
``defaultVersion``, with every major version ``N.0`` up to it) and passes when one of them replays; when
none does, the verdict is that of the version that replayed the most actions. Versions that schedule the same
activities for a history (e.g. 3.0 to 6.0 for a case: they differ in inputs, which replay does not compare)
all replay it, so such an instance is reported with every one of them (``3.0|4.0|5.0|6.0``): the API cannot
tell which one it runs under. Source of the version stamp and match strategy:
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-orchestration-versioning

History from the Durable HTTP API or from files without devhost's retry markers: a retry of an activity
(TaskFailed, then a timer, then the same activity again) is recognised and folded into one action, as the
extension's retry interceptor does (:func:`mark_retries`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devhost.durable import history as h
from devhost.durable.actions import (
    CONTINUE_AS_NEW,
    WAIT_EVENT,
    describe_action,
    flatten_actions,
    matches,
)
from devhost.durable.history import describe_event
from devhost.durable.models import InstanceState
from devhost.durable.replay import build_payload, execute, payload_input, played_text
from devhost.durable.runtime_state import RuntimeState
from tools.history_sources import (
    TIE_KEY,
    InstanceHistory,
    SourceError,
    from_file,
    from_http,
    from_taskhub,
)

ROOT = Path(__file__).resolve().parent.parent
Handler = Callable[[str], Any]


@dataclass(frozen=True)
class GateResult:
    """What replaying one instance found. ``breaks`` is True when the new code would fail the instance;
    ``difference`` names the first differing action (or the replay error); ``note`` reports a changed
    output of a finished history (informational)."""

    instance_id: str
    name: str
    runtime_status: str | None
    breaks: bool
    difference: str | None = None
    note: str | None = None
    #: How many recorded actions replayed identically before the difference (picks among versions).
    matched: int = 0
    #: The orchestration versions (``ExecutionStarted.Version`` texts, ``""`` = unversioned) the instance
    #: runs under: the recorded one; else those it replays with (several when they schedule alike); empty
    #: when unknown (not started yet, or no version replays it).
    versions: tuple[str, ...] = ()

    @property
    def version_label(self) -> str:
        """``versions`` as printed: ``"1"`` for unversioned, ``"6.0"``, ``"3.0|4.0"`` when the history does
        not tell them apart, ``"?"`` when unknown."""
        return "|".join(v or "1" for v in self.versions) or "?"

    def line(self) -> str:
        """One report line: ``BREAKS``/``ok``, version label, instance, orchestrator, status and the
        difference, e.g. ``ok     6.0  case-1 (case_workflow, Running)``."""
        status = self.runtime_status or "file"
        verdict = "BREAKS" if self.breaks else "ok"
        head = f"{verdict:6} {self.version_label:4} {self.instance_id} ({self.name}, {status})"
        tail = self.difference or self.note
        return f"{head}: {tail}" if tail else head


def orchestrators(app_dir: Path = ROOT) -> dict[str, Handler]:
    """``{orchestrator name: SDK handler}`` of the app in ``app_dir`` (its ``function_app.py`` imported as
    the worker does; ``get_user_function()`` of each ``orchestrationTrigger`` function is the SDK's
    ``handle`` wrapper). Raises ImportError when the app cannot be imported."""
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module = importlib.import_module("function_app")
    found: dict[str, Handler] = {}
    for fn in module.app.get_functions():
        trigger = fn.get_trigger()
        if trigger is not None and trigger.get_binding_name() == "orchestrationTrigger":
            found[fn.get_function_name()] = fn.get_user_function()
    return found


def mark_retries(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``history`` with devhost's retry markers (``_RetryOptions`` on a retried action's first schedule
    event, ``_RetryOf`` on its retry timers and later attempts) added where they are missing: after a
    TaskFailed/SubOrchestrationInstanceFailed of an action, a TimerCreated in the same episode and the next
    schedule of the same name belong to that action. Histories that carry markers are returned unchanged."""
    if any("_RetryOf" in e or "_RetryOptions" in e for e in history):
        return history
    events = [dict(e) for e in history]
    by_id = {int(e["EventId"]): e for e in events if e.get("EventType") in h.SCHEDULE_TYPES}
    root_of: dict[int, int] = {}
    failed_in_episode: list[int] = []
    awaiting: dict[str, int] = {}  # action name -> chain root waiting for its next attempt
    for e in events:
        t = e.get("EventType")
        if t == h.ORCHESTRATOR_STARTED:
            failed_in_episode = []
        elif t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED):
            failed = by_id.get(int(e.get("TaskScheduledId", -1)))
            if failed is not None:
                failed_in_episode.append(root_of.get(int(failed["EventId"]), int(failed["EventId"])))
        elif t == h.TIMER_CREATED and failed_in_episode:
            root = failed_in_episode.pop(0)
            by_id[root].setdefault("_RetryOptions", {})
            e["_RetryOf"] = root
            awaiting[str(by_id[root].get("Name"))] = root
        elif t in (h.TASK_SCHEDULED, h.SUB_ORCHESTRATION_CREATED) and str(e.get("Name")) in awaiting:
            root = awaiting.pop(str(e.get("Name")))
            e["_RetryOf"] = root
            root_of[int(e["EventId"])] = root
    return events


def replay(
    instance: InstanceHistory, handler: Handler | None, versions: tuple[str, ...] = ("",)
) -> GateResult:
    """Replay ``instance`` against ``handler`` (None: the orchestrator no longer exists) and compare. An
    instance whose version is unknown (``ExecutionStarted.Version`` None: from the Durable HTTP API) is
    replayed with each of ``versions`` (module docstring). ``GateResult.versions``: the recorded version;
    else every one of ``versions`` that replays it; else none."""
    started = next((e for e in instance.history if e.get("EventType") == h.EXECUTION_STARTED), None)
    if started is None:
        return _replay(instance, handler)
    if started.get("Version") is not None:
        return dataclasses.replace(_replay(instance, handler), versions=(str(started["Version"]),))
    results = []
    for version in versions:
        history = [{**e, "Version": version} if e is started else e for e in instance.history]
        results.append(_replay(dataclasses.replace(instance, history=history), handler))
    replaying = tuple(v for v, r in zip(versions, results, strict=True) if not r.breaks)
    if replaying:
        return dataclasses.replace(results[versions.index(replaying[0])], versions=replaying)
    # none replays: the verdict of the version that replayed furthest (the first, unversioned, on a tie)
    return max(results, key=lambda r: r.matched)


def _replay(instance: InstanceHistory, handler: Handler | None) -> GateResult:

    def verdict(
        breaks: bool, difference: str | None = None, note: str | None = None, matched: int = 0
    ) -> GateResult:
        return GateResult(
            instance.instance_id, instance.name, instance.runtime_status, breaks, difference, note, matched
        )

    if handler is None:
        return verdict(breaks=True, difference=f"orchestrator '{instance.name}' is not registered")
    history = mark_retries(instance.history)
    started = next((e for e in history if e.get("EventType") == h.EXECUTION_STARTED), None)
    if started is None:
        return verdict(breaks=False, note="not started yet (no ExecutionStarted): nothing to replay")
    for _ in range(1 + sum(TIE_KEY in e for e in history)):
        state, result, leaves = _replay_once(instance, handler, history, started)
        aligned = align_ties(history, leaves) if result.state is not None else None
        if aligned is None:
            break
        history = aligned
    if result.state is None:
        return verdict(breaks=True, difference=f"replay failed: {str(result.error)[:300]}")
    for index, (action, event) in enumerate(zip(leaves, state.leaves, strict=False)):
        if not matches(action, event):
            return verdict(
                breaks=True,
                difference=(
                    f"#{event.get('EventId')}: history has {describe_event(event)}, "
                    f"today's code schedules {describe_action(action)}"
                ),
                matched=index,
            )
    if len(leaves) < len(state.leaves):
        event = state.leaves[len(leaves)]
        reason = (
            f" (the orchestrator raised: {result.state['error'][:200]})" if result.state.get("error") else ""
        )
        return verdict(
            breaks=True,
            difference=(
                f"#{event.get('EventId')}: history has {describe_event(event)}, "
                f"today's code schedules nothing{reason}"
            ),
            matched=len(leaves),
        )
    if result.user_error or (result.state.get("error") and not _failed(history)):
        return verdict(
            breaks=True,
            difference=f"the orchestrator raised while replaying: {str(result.state.get('error'))[:300]}",
        )
    return verdict(breaks=False, note=_output_note(history, result.state))


def _replay_once(
    instance: InstanceHistory, handler: Handler, history: list[dict[str, Any]], started: dict[str, Any]
) -> tuple[RuntimeState, Any, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    state = RuntimeState(
        InstanceState(
            instance.instance_id,
            instance.name,
            instance.runtime_status or "Running",
            None,
            None,
            None,
            now,
            now,
        ),
        history,
    )
    payload = build_payload(
        instance.instance_id,
        instance.parent_instance_id,
        [played_text(e) for e in history],
        [],
        payload_input(started.get("Input")),
    )
    result = execute(handler, payload)
    leaves = [
        a
        for a in flatten_actions((result.state or {}).get("actions") or [])
        if a.get("actionType") not in (WAIT_EVENT, CONTINUE_AS_NEW)
    ]
    return state, result, leaves


def align_ties(history: list[dict[str, Any]], leaves: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Give schedule events that share a timestamp (``_TieGroup``: their order is unknown) the code's order:
    within each such batch, position by position, an event whose name differs from the code's action at that
    sequence number swaps with a later event of the batch that has the action's name. Returns ``history``
    renumbered (completions, timers and retry markers follow), or None when nothing changes. When the batch
    lacks the action's name (a real difference), the batch's event that the code no longer schedules takes
    that place, so the comparison names it."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for e in history:
        if TIE_KEY in e and e.get("EventType") in h.SCHEDULE_TYPES:
            groups.setdefault(int(e[TIE_KEY]), []).append(e)
    renumber: dict[int, int] = {}
    for first, members in groups.items():
        order = sorted(members, key=lambda e: int(e["EventId"]))
        for i in range(len(order)):
            if first + i >= len(leaves):
                break
            want = str(leaves[first + i].get("functionName"))
            if str(order[i].get("Name")) == want:
                continue
            j = next((k for k in range(i + 1, len(order)) if str(order[k].get("Name")) == want), None)
            if j is None:  # a real difference: show the history event the code no longer schedules there
                wanted = {str(a.get("functionName")) for a in leaves[first + i : first + len(order)]}
                j = next((k for k in range(i, len(order)) if str(order[k].get("Name")) not in wanted), i)
                order[i], order[j] = order[j], order[i]
                break
            order[i], order[j] = order[j], order[i]
        renumber.update(
            {int(e["EventId"]): first + i for i, e in enumerate(order) if int(e["EventId"]) != first + i}
        )
    if not renumber:
        return None
    out = []
    for e in history:
        e = dict(e)
        if e.get("EventType") in h.SCHEDULE_TYPES and TIE_KEY in e and int(e["EventId"]) in renumber:
            e["EventId"] = renumber[int(e["EventId"])]
        for key in ("TaskScheduledId", "TimerId", "_RetryOf"):
            if key in e and int(e[key]) in renumber:
                e[key] = renumber[int(e[key])]
        out.append(e)
    slots = [i for i, e in enumerate(out) if e.get("EventType") in h.SCHEDULE_TYPES and TIE_KEY in e]
    for slot, event in zip(
        slots, sorted((out[i] for i in slots), key=lambda e: int(e["EventId"])), strict=True
    ):
        out[slot] = event  # history order follows the new sequence numbers (RuntimeState reads it in order)
    return out


def _failed(history: list[dict[str, Any]]) -> bool:
    done = next((e for e in history if e.get("EventType") == h.EXECUTION_COMPLETED), None)
    return bool(done and done.get("OrchestrationStatus") not in (None, 0, 1, "Completed"))


def _output_note(history: list[dict[str, Any]], state: dict[str, Any]) -> str | None:
    done = next((e for e in history if e.get("EventType") == h.EXECUTION_COMPLETED), None)
    if done is None or not done.get("Result") or _failed(history):
        return None
    try:
        recorded = json.loads(done["Result"])
    except (TypeError, json.JSONDecodeError):
        return None
    if state.get("isDone") and state.get("output") != recorded:
        return "note: the replayed output differs from the recorded result (not a break)"
    return None


def run_gate(
    instances: Iterable[InstanceHistory], handlers: dict[str, Handler], versions: tuple[str, ...] = ("",)
) -> list[GateResult]:
    """Replay every instance (orchestrator looked up case-insensitively, as the host does); ``versions``:
    what an instance of unknown version is tried with (:func:`replay`)."""
    lower = {name.lower(): fn for name, fn in handlers.items()}
    return [replay(i, lower.get(i.name.lower()), versions) for i in instances]


def _version_key(label: str) -> tuple[int, tuple[int, ...], str]:
    """Sort key of a version label: numeric by its first version (``"1"`` < ``"2.0"`` < ``"10.0"``),
    ``"?"`` and non-numeric texts last."""
    first = label.split("|", 1)[0]
    parts = first.split(".")
    if all(p.isdigit() for p in parts):
        return (0, tuple(int(p) for p in parts), label)
    return (1, (), label)


def version_summary(results: Iterable[GateResult]) -> str:
    """How many instances run under each version: ``"by version: 1: 4, 2.0: 4, 6.0: 6"`` (labels as in
    :attr:`GateResult.version_label`, so an instance the history cannot place counts under e.g.
    ``3.0|4.0|5.0|6.0``; ``"by version: none"`` without instances). A version that occurs in no label has
    no instance among those checked."""
    counts = Counter(r.version_label for r in results)
    parts = [f"{label}: {counts[label]}" for label in sorted(counts, key=_version_key)]
    return "by version: " + (", ".join(parts) or "none")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.replay_gate", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="history files (golden documents or saved status responses)")
    p.add_argument("--taskhub", help="devhost task hub SQLite file (open instances)")
    p.add_argument(
        "--hub", default=None, help="task hub name (default: host.json extensions.durableTask.hubName)"
    )
    p.add_argument("--url", help="base URL of a host exposing the Durable HTTP API (open instances)")
    p.add_argument("--code", help="durabletask_extension system key for --url")
    p.add_argument("--header", action="append", default=[], help="extra header 'Name: value' for --url")
    p.add_argument("--app-dir", default=str(ROOT), help="app whose orchestrators replay (default: this tree)")
    return p


def _durable_settings(app_dir: Path) -> dict[str, Any]:
    host = json.loads((app_dir / "host.json").read_text())
    return dict(host.get("extensions", {}).get("durableTask", {}))


def _hub_name(app_dir: Path) -> str:
    return str(_durable_settings(app_dir).get("hubName") or "TestHubName")


def _known_versions(app_dir: Path) -> tuple[str, ...]:
    """Unversioned, then ``N.0`` for N = 2 … host.json ``defaultVersion``'s major number, then
    ``defaultVersion`` itself (when set and not among them)."""
    default = _durable_settings(app_dir).get("defaultVersion")
    if not default:
        return ("",)
    text = str(default)
    head = text.split(".", 1)[0]
    known = ["", *(f"{n}.0" for n in range(2, int(head) + 1))] if head.isdigit() else [""]
    return (*known, text) if text not in known else tuple(known)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code (0 pass, 1 an instance would break, 2 a source error)."""
    args = _parser().parse_args(argv)
    if not (args.files or args.taskhub or args.url):
        _parser().error("give history files, --taskhub or --url")
    app_dir = Path(args.app_dir).resolve()
    handlers = orchestrators(app_dir)
    try:
        instances: list[InstanceHistory] = [from_file(f) for f in args.files]
        if args.taskhub:
            instances += list(from_taskhub(args.taskhub, args.hub or _hub_name(app_dir)))
        if args.url:
            headers = dict(tuple(part.strip() for part in x.split(":", 1)) for x in args.header)
            instances += list(from_http(args.url, code=args.code, headers=headers))
    except SourceError as exc:
        print(f"replay gate: {exc}", file=sys.stderr)
        return 2
    results = run_gate(instances, handlers, _known_versions(app_dir))
    for result in results:
        print(result.line())
    print(version_summary(results))
    broken = sum(r.breaks for r in results)
    print(f"replay gate: {len(results)} instance(s) replayed, {broken} would break")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
