"""Parsed histories of the instances the SQLite task hub ran last, so an episode does not re-read and
re-parse the whole history it committed itself (issue 15).

Every episode of an orchestration loads its instance's history: ``SELECT`` of all its rows and
``json.loads`` of each, ~14 KiB for a case of the app by its last episodes, so a case's episodes parsed
their growing history over and over (3 % of the host's GIL time in a 16-sender burst). The store keeps
what it read and wrote: per instance the execution id, the stored JSON texts and their parsed events.

Correctness rests on these rules, enforced by :class:`devhost.durable.sqlite_store.SqliteStore`:

- An entry is used only for the execution id the instance row has now (a restarted, continued-as-new or
  recreated instance has another one), and only while no other connection has written the database
  (``PRAGMA data_version``: another process or another store object on the same file) – else the whole
  cache is dropped and rebuilt from SQLite, as after a restart (the cache is memory only).
- A commit extends an entry only after its transaction committed, and only when the episode started from
  exactly the cached length; any other write to an instance's history (rewind's new history,
  continue-as-new, a terminal outcome, purge, recreation, a stale or failed commit) drops the entry.
- Readers get new lists; the event dicts are shared and must not be mutated (no host code does; the
  devhost tests compare every episode's cached history with SQLite: ``tests/devhost/conftest.py``).

Bounded: at most ``max_instances`` entries and ``max_bytes`` of JSON text. To make room, entries unused
for ``idle_s`` go, least recently used first; when every entry is in use, a new history is not kept (with
more running instances than room, evicting the least recently used would evict each history just before
the dispatcher's round-robin needs it again: 600 concurrent chain5 instances and 512 entries hit 14 % of
loads that way, 71 % this way). A single history larger than the budget is not kept.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]

#: Default bounds: entries, and bytes of JSON text (the parsed events take several times that in memory).
MAX_INSTANCES = 1024
MAX_BYTES = 8 << 20
#: Seconds after which an unused entry may make room for another.
IDLE_S = 30.0


@dataclass
class _Entry:
    execution_id: str
    texts: list[str]
    events: list[Event]
    size: int  # sum of len(text)
    used: float = 0.0  # clock of the last get / put / extend


class HistoryCache:
    """Instance id → (execution id, history texts, parsed events); see the module docstring.

    ``clock`` (seconds, monotonic) dates uses for ``idle_s``. Not thread-safe (the store that owns it is
    used from one thread)."""

    def __init__(self, max_instances: int = MAX_INSTANCES, max_bytes: int = MAX_BYTES, idle_s: float = IDLE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_instances = max_instances
        self.max_bytes = max_bytes
        self.idle_s = idle_s
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Bytes of JSON text held."""
        return self._bytes

    def get(self, instance_id: str, execution_id: str) -> tuple[list[str], list[Event]] | None:
        """``(texts, events)`` of the instance's history as last stored (new lists), or None when not
        cached or cached for another execution (that entry is dropped)."""
        entry = self._entries.get(instance_id)
        if entry is None:
            return None
        if entry.execution_id != execution_id:
            self.drop(instance_id)
            return None
        self._entries.move_to_end(instance_id)
        entry.used = self._clock()
        return list(entry.texts), list(entry.events)

    def put(self, instance_id: str, execution_id: str, texts: list[str], events: list[Event]) -> None:
        """Keep the history just read from SQLite (``events`` parsed from ``texts``; both kept as given, so
        pass lists the caller does not keep)."""
        self.drop(instance_id)
        self._store(instance_id, _Entry(execution_id, texts, events, sum(map(len, texts))))

    def extend(self, instance_id: str, execution_id: str, history_len: int, texts: list[str]) -> None:
        """Record a committed append of ``texts`` to a history that had ``history_len`` events: the entry
        grows by the parsed ``texts`` if it holds exactly ``history_len`` events of ``execution_id``, else
        it is dropped (it no longer matches SQLite)."""
        entry = self._entries.get(instance_id)
        if entry is None:
            return
        if entry.execution_id != execution_id or len(entry.texts) != history_len:
            self.drop(instance_id)
            return
        if not texts:
            return
        self.drop(instance_id)
        entry.texts.extend(texts)
        entry.events.extend(json.loads(t) for t in texts)
        entry.size += sum(map(len, texts))
        self._store(instance_id, entry)

    def drop(self, instance_id: str) -> None:
        """Forget the instance (its history changed in a way the cache does not follow)."""
        entry = self._entries.pop(instance_id, None)
        if entry is not None:
            self._bytes -= entry.size

    def clear(self) -> None:
        """Forget everything (the database was written by someone else)."""
        self._entries.clear()
        self._bytes = 0

    def _store(self, instance_id: str, entry: _Entry) -> None:
        """Keep ``entry`` (not held now) if there is room or idle entries can make it."""
        now = self._clock()
        entry.used = now
        while self._entries and self._full(entry.size):
            oldest_id, oldest = next(iter(self._entries.items()))
            if oldest.used > now - self.idle_s:
                break  # all in use
            del self._entries[oldest_id]
            self._bytes -= oldest.size
        if not self._full(entry.size):
            self._entries[instance_id] = entry
            self._bytes += entry.size

    def _full(self, adding: int) -> bool:
        return len(self._entries) >= self.max_instances or self._bytes + adding > self.max_bytes
