"""Worker-side orchestration versioning: ``versionMatchStrategy`` / ``versionFailureStrategy``.

Mirrors DTFx ``TaskOrchestrationDispatcher.OnProcessWorkItemAsync`` (DurableTask.Core 3.x) with the
``VersioningSettings`` the Durable Functions extension builds from host.json ``extensions.durableTask``
(``Version = defaultVersion``, ``MatchStrategy = versionMatchStrategy`` default ``CurrentOrOlder``,
``FailureStrategy = versionFailureStrategy`` default ``Reject``), documented at
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-orchestration-versioning:

- ``None``: never compared;
- ``Strict``: the instance's version must equal ``defaultVersion`` (an unset one counts as ``""``);
- ``CurrentOrOlder``: the instance's version must not compare greater than ``defaultVersion``
  (:func:`compare_versions`, DTFx ``VersioningSettings.CompareVersions``).

On a mismatch ``Fail`` fails the instance without running user code (FailureDetails ``VersionMismatch`` /
``Orchestration version did not comply with Worker Versioning``); ``Reject`` abandons the work item: its
messages stay queued and the instance is tried again later (see the dispatcher).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from devhost.durable import history as h
from devhost.durable.models import TERMINAL_STATUSES

if TYPE_CHECKING:
    from devhost.durable.models import InboxMessage
    from devhost.durable.runtime_state import RuntimeState

MATCH_STRATEGIES = ("None", "Strict", "CurrentOrOlder")
FAILURE_STRATEGIES = ("Reject", "Fail")
MISMATCH_ERROR_TYPE = "VersionMismatch"
MISMATCH_MESSAGE = "Orchestration version did not comply with Worker Versioning"

_DOTNET_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")


def _parse(version: str) -> tuple[int, int, int, int] | None:
    """``System.Version.TryParse``: 2–4 non-negative integer parts; absent build/revision are -1."""
    m = _DOTNET_VERSION.match(version)
    if m is None:
        return None
    parts = [int(p) if p is not None else -1 for p in m.groups()]
    if any(p > 2**31 - 1 for p in parts):
        return None
    return (parts[0], parts[1], parts[2], parts[3])


def compare_versions(source: str | None, other: str | None) -> int:
    """<0, 0, >0 as ``source`` is older than, equal to, newer than ``other`` (DTFx
    ``VersioningSettings.CompareVersions``): blank equals blank and is older than anything defined; two
    ``System.Version`` strings (``"1.0"``, ``"2.1.3"``) compare numerically; otherwise ordinal
    case-insensitive string comparison (so ``"10"`` < ``"9"``, as in .NET)."""
    s_blank, o_blank = not (source or "").strip(), not (other or "").strip()
    if s_blank and o_blank:
        return 0
    if s_blank:
        return -1
    if o_blank:
        return 1
    assert source is not None and other is not None
    ps, po = _parse(source), _parse(other)
    if ps is not None and po is not None:
        return (ps > po) - (ps < po)
    a, b = source.upper(), other.upper()  # OrdinalIgnoreCase compares upper-cased code points
    return (a > b) - (a < b)


def mismatch(match_strategy: str, worker_version: str | None, instance_version: str | None) -> bool:
    """True when an instance of ``instance_version`` may not run on a worker whose ``defaultVersion`` is
    ``worker_version`` under ``match_strategy`` (one of :data:`MATCH_STRATEGIES`)."""
    if match_strategy == "Strict":
        return (worker_version or "") != (instance_version or "")
    if match_strategy == "CurrentOrOlder":
        return compare_versions(instance_version, worker_version) > 0
    return False


def runs_user_code(state: RuntimeState, batch: Sequence[InboxMessage]) -> bool:
    """Whether the episode consuming ``batch`` runs the orchestrator (as ``RuntimeState.begin`` decides):
    terminate, suspend, resume and stale messages to a finished instance do not, so they are not
    version-checked in devhost (DTFx checks every work item)."""
    types = [m.event.get("EventType") for m in batch]
    if not types or h.EXECUTION_TERMINATED in types:
        return False
    if types[0] in (h.EXECUTION_SUSPENDED, h.EXECUTION_RESUMED):
        return False
    status = state.instance.runtime_status
    if status in TERMINAL_STATUSES:
        return status == "Failed" and types == [h.EXECUTION_REWOUND]
    if status == "Suspended" or types[0] == h.EXECUTION_REWOUND:
        return False
    return state.started is not None or h.EXECUTION_STARTED in types


def instance_version(state: RuntimeState, batch: Sequence[InboxMessage]) -> str:
    """The instance's version: its ExecutionStarted's, in history or (a new instance) in ``batch``."""
    if state.started is not None:
        return state.version
    start = next((m.event for m in batch if m.event.get("EventType") == h.EXECUTION_STARTED), None)
    return str((start or {}).get("Version") or "")


def failure_details() -> dict[str, object]:
    """The FailureDetails of an instance failed by ``versionFailureStrategy`` Fail (DTFx: non-retriable)."""
    return {"ErrorType": MISMATCH_ERROR_TYPE, "ErrorMessage": MISMATCH_MESSAGE, "IsNonRetriable": True}


def normalize(value: object, allowed: tuple[str, ...]) -> str | None:
    """The canonical spelling of ``value`` among ``allowed`` (case-insensitive, as .NET binds enums;
    the enum's integer values are accepted too), or None when it is not one of them."""
    text = str(value).strip()
    if text.isdigit() and int(text) < len(allowed):
        return allowed[int(text)]
    return next((a for a in allowed if a.lower() == text.lower()), None)
