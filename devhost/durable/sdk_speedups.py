"""Two behaviour-preserving speed-ups of azure-functions-durable 1.7's replay, applied at task hub start.

Profiling devhost's episodes showed the SDK's own bookkeeping, not user code, dominating replay:

1. ``models/history/HistoryEvent.py`` parses every event's ``Timestamp`` with ``dateutil.parser.parse``
   (~1 ms per event, and the SDK replays the whole history every episode). :func:`fast_parse` handles the
   exact form devhost writes (``YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z``) with a regular expression and returns what
   dateutil returns for it (fraction truncated to µs; the tzinfo dateutil picks for ``Z``, which is
   ``tzlocal()`` on a machine whose zone is UTC and ``tzutc()`` elsewhere, taken from one real parse),
   cached per text (every episode replays the same history's timestamps); anything else goes to dateutil
   unchanged.
2. ``models/TaskOrchestrationExecutor.py`` builds a new ``namedtuple`` class on every execution (~0.8 ms);
   a cached ``namedtuple`` returns the same (immutable) class for the same arguments.

Neither changes what user code observes. :func:`apply` is idempotent; :func:`revert` restores the SDK.
"""

from __future__ import annotations

import collections
import functools
import importlib
import re
from datetime import datetime
from typing import Any

from dateutil.parser import parse as _dateutil_parse

_ISO_Z = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?Z$")
_saved: dict[str, Any] = {}


def fast_parse(text: Any, *args: Any, **kwargs: Any) -> datetime:
    """``dateutil.parser.parse`` for devhost's UTC timestamps, falling back to dateutil for the rest."""
    parsed = _parse_zulu(text) if isinstance(text, str) and not args and not kwargs else None
    return parsed if parsed is not None else _dateutil_parse(text, *args, **kwargs)


@functools.lru_cache(maxsize=8192)
def _parse_zulu(text: str) -> datetime | None:
    """``text`` in devhost's form as a datetime, else None. Cached: every episode replays the same
    history, so the same timestamps come back (a datetime is immutable)."""
    m = _ISO_Z.match(text)
    if m is None:
        return None
    y, mo, d, hh, mm, ss, frac = m.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    return datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), micro, tzinfo=_zulu())


@functools.lru_cache(maxsize=1)
def _zulu() -> Any:
    return _dateutil_parse("2000-01-01T00:00:00Z").tzinfo


@functools.lru_cache(maxsize=64)
def _cached_namedtuple(typename: str, field_names: Any) -> Any:
    return collections.namedtuple(typename, field_names)


def _namedtuple(typename: str, field_names: Any, **kwargs: Any) -> Any:
    if kwargs or not isinstance(field_names, str | tuple):
        return collections.namedtuple(typename, field_names, **kwargs)
    return _cached_namedtuple(typename, field_names)


def _modules() -> tuple[Any, Any]:
    """The SDK modules (not the classes their packages re-export under the same names)."""
    executor = importlib.import_module("azure.durable_functions.models.TaskOrchestrationExecutor")
    event = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    return executor, event


def apply() -> None:
    """Install both speed-ups (no-op when the SDK modules are missing or already patched)."""
    if _saved:
        return
    try:
        executor_mod, event_mod = _modules()
    except ImportError:
        return
    _saved["dt_parse"] = event_mod.dt_parse
    _saved["namedtuple"] = executor_mod.namedtuple
    event_mod.dt_parse = fast_parse
    executor_mod.namedtuple = _namedtuple


def revert() -> None:
    """Put the SDK's originals back."""
    if not _saved:
        return
    executor_mod, event_mod = _modules()
    event_mod.dt_parse = _saved.pop("dt_parse")
    executor_mod.namedtuple = _saved.pop("namedtuple")
