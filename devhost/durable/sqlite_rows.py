"""Rows of the SQLite task hub's ``instances`` table: its columns, their UTC time text, the row ↔
:class:`InstanceState` mapping, and the filter and paging token of instance queries.

Shared by :class:`devhost.durable.sqlite_store.SqliteStore` and readers that open a hub file read-only
(``tools/history_sources.py``), so both map rows the same way. Pure: no connection here. The table's shape
is ``schema.sql`` beside this file; times are UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sortable, so the
paging order ``created_time, instance_id`` is the text order), after microsoft/durabletask-go
``backend/sqlite/sqlite.go``.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from devhost.durable.models import InstanceState
from devhost.durable.outcome import EpisodeOutcome

#: The ``instances`` columns after ``hub``, in the order :func:`row_state` reads them.
FIELDS = (
    "instance_id", "execution_id", "name", "version", "runtime_status", "input", "output", "custom_status",
    "failure_details", "parent_instance_id", "created_time", "last_updated_time", "completed_time",
)
#: ``FIELDS`` as a SELECT / INSERT column list.
COLUMNS = ", ".join(FIELDS)
#: ``INSERT <verb> INTO instances`` with ``hub`` and every column of :data:`FIELDS` as parameters.
INSERT_VALUES = f"INTO instances (hub, {COLUMNS}) VALUES ({','.join('?' * (len(FIELDS) + 1))})"
_COL_INSTANCE_ID, _COL_CREATED = FIELDS.index("instance_id"), FIELDS.index("created_time")


def time_text(dt: datetime | None) -> str | None:
    """``dt`` as the stored UTC text (microseconds, ``Z``); None stays None."""
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """The aware UTC datetime of a stored time text; None stays None."""
    return None if text is None else datetime.fromisoformat(text)


def row_state(row: sqlite3.Row | tuple[Any, ...]) -> InstanceState:
    """The :class:`InstanceState` of a row selected as :data:`COLUMNS` (``failure_details`` is JSON)."""
    (iid, exe, name, ver, status, inp, out, custom, failure, parent, created, updated, completed) = row
    return InstanceState(
        instance_id=iid, name=name, runtime_status=status, input=inp, output=out, custom_status=custom,
        created_time=parse_time(created), last_updated_time=parse_time(updated),  # type: ignore[arg-type]
        version=ver, execution_id=exe, parent_instance_id=parent,
        failure_details=json.loads(failure) if failure else None, completed_time=parse_time(completed),
    )


def instance_filter(
    hub: str, created_from: datetime | None, created_to: datetime | None, statuses: Sequence[str] | None
) -> tuple[list[str], list[Any]]:
    """WHERE terms (to join with AND) and their parameters selecting ``hub``'s instances created in
    ``[created_from, created_to]`` (either bound optional) with a runtime status in ``statuses`` (any
    when empty or None)."""
    where: list[str] = ["hub=?"]
    args: list[Any] = [hub]
    if created_from is not None:
        where.append("created_time >= ?")
        args.append(time_text(created_from))
    if created_to is not None:
        where.append("created_time <= ?")
        args.append(time_text(created_to))
    if statuses:
        where.append(f"runtime_status IN ({','.join('?' * len(statuses))})")
        args += list(statuses)
    return where, args


def page_token(last: sqlite3.Row | tuple[Any, ...]) -> str:
    """The continuation token after ``last`` (a row selected as :data:`COLUMNS`): URL-safe base64 of
    ``[created_time, instance_id]``, opaque to clients."""
    key = [last[_COL_CREATED], last[_COL_INSTANCE_ID]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def after_token(token: str) -> tuple[str, list[Any]]:
    """The WHERE term and parameters selecting the rows after :func:`page_token`'s ``token``. Raises
    ``ValueError`` for a token it did not make."""
    try:
        created, iid = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid continuation token {token!r}") from exc
    return "(created_time, instance_id) > (?, ?)", [created, iid]


def instance_update(outcome: EpisodeOutcome, now: datetime) -> tuple[str, list[Any]]:
    """The ``SET`` list and its parameters that record an episode's ``outcome`` committed at ``now`` in its
    instance row: status, last update, output, failure details, completion time (terminal outcomes), the
    custom status and input when the episode set them, and a continue-as-new's execution id and input."""
    sets = ["runtime_status=?", "last_updated_time=?", "output=?", "failure_details=?", "completed_time=?"]
    args: list[Any] = [
        outcome.runtime_status, time_text(now), outcome.output,
        json.dumps(outcome.failure) if outcome.failure else None,
        time_text(now) if outcome.is_terminal else None,
    ]
    if outcome.custom_status_set:
        sets.append("custom_status=?")
        args.append(outcome.custom_status)
    if outcome.input_set:
        sets.append("input=?")
        args.append(outcome.input)
    can = outcome.continue_as_new
    if can is not None:
        sets += ["execution_id=?", "input=?"]
        args += [can["OrchestrationInstance"]["ExecutionId"], can.get("Input")]
    return ", ".join(sets), args
