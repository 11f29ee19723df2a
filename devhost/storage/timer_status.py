"""The timer schedule monitor's status, persisted as JSON so a restart can detect a missed occurrence.

The host keeps ``{"Last", "Next", "LastUpdated"}`` in blob ``azure-webjobs-hosts/timers/{hostId}/...``
(webjobs-sdk-extensions ``StorageScheduleMonitor``, ``ScheduleMonitor.IsPastDueAsync``); devhost keeps the
same object in ``<data dir>/timers/<function>.json`` (JSON only, written atomically).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from devhost.storage.ncrontab import Schedule

log = logging.getLogger("devhost.storage.timer")


@dataclass
class ScheduleStatus:
    """Last occurrence run, next expected, and when this was written (aware UTC datetimes)."""

    last: datetime | None
    next: datetime
    last_updated: datetime

    def to_json(self) -> dict[str, str | None]:
        """The host's shape (``TimerInfo.ScheduleStatus``): ISO 8601 strings."""
        return {
            "Last": self.last.isoformat() if self.last else None,
            "Next": self.next.isoformat(),
            "LastUpdated": self.last_updated.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> ScheduleStatus:
        """Parse :meth:`to_json`'s shape. Raises KeyError/ValueError for a malformed status."""
        last = data.get("Last")
        return cls(
            datetime.fromisoformat(last) if last else None,
            datetime.fromisoformat(str(data["Next"])),
            datetime.fromisoformat(str(data["LastUpdated"])),
        )


class StatusStore:
    """Reads and writes one function's status file (``directory/<function>.json``)."""

    def __init__(self, directory: Path, function_name: str) -> None:
        self.path = directory / f"{function_name}.json"

    def read(self) -> ScheduleStatus | None:
        """The stored status, or None when absent or unreadable (then logged and treated as new)."""
        try:
            return ScheduleStatus.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("Ignoring unreadable timer status %s: %s", self.path, exc)
            return None

    def write(self, status: ScheduleStatus) -> None:
        """Write atomically (temp file + rename); failures are logged, never raised (as the host)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(status.to_json(), indent=2), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("Could not write timer status %s: %s", self.path, exc)


def check_past_due(store: StatusStore, schedule: Schedule, now: datetime) -> tuple[bool, ScheduleStatus]:
    """The host's start-up check (``ScheduleMonitor.IsPastDueAsync``): returns (past due, status).

    No status → a new one with ``Next = schedule.next(now)``, not past due. A stored ``Next`` that no
    longer matches the schedule (``schedule.next(Last or LastUpdated)``) is recomputed (from now if that
    time has passed, ``Last`` reset). Past due ⇔ ``now > Next``.
    """
    status = store.read()
    if status is None:
        status = ScheduleStatus(None, schedule.next_after(now), now)
        store.write(status)
        return False, status
    expected = schedule.next_after(status.last or status.last_updated)
    if expected != status.next:
        if expected < now:
            status = ScheduleStatus(None, schedule.next_after(now), now)
        else:
            status = ScheduleStatus(status.last, expected, now)
        store.write(status)
    return now > status.next, status
