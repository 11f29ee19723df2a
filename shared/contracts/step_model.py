"""The base of every activity input and output (:class:`StepModel`, :class:`StepInput`) and the audit
record that rides in a step's input (:class:`AuditRecordIn`: brief in the history, filled back before the
append).

Split out of ``shared/contracts/steps.py`` (which re-exports these names): the JSON-in, JSON-out rules
every step contract follows, and the riding audit record's brief form, apart from the judging steps' own
shapes. The wire rules are in that module's docstring.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    model_serializer,
)

from shared.case_errors import StepInputError


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A UTC datetime that travels as ``datetime.isoformat()`` text (``2026-01-05T08:00:00+00:00``), the form
#: the orchestrators always wrote into activity inputs (pydantic's own form would end in ``Z``).
IsoDatetime = Annotated[
    datetime,
    BeforeValidator(lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v),
    AfterValidator(_utc),
    PlainSerializer(lambda v: _utc(v).isoformat(), return_type=str),
]


class StepModel(BaseModel):
    """Base of every activity input and output: frozen, unknown keys refused, JSON in and out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The JSON value that crosses the durable boundary: the set fields only, in declaration order
        (module docstring), nested models dumped whole."""
        return self.model_dump(mode="json", include=set(self.model_fields_set))

    @classmethod
    def from_input(cls, raw: Any, activity: str) -> Self:
        """Validate an activity's input JSON. Raises :class:`StepInputError` (a ``ValueError``) naming
        ``activity``, the model and each offending field; never returns a partial model."""
        if not isinstance(raw, dict):
            problem = f"expected a JSON object, got {type(raw).__name__}"
            raise StepInputError(activity, cls.__name__, [problem])
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in exc.errors()[:10]
            ]
            raise StepInputError(activity, cls.__name__, problems) from None


class AuditRecordIn(StepModel):
    """One audit record to append: its deterministic ``record_id`` (``{case}:{seq:03d}:{kind}``), ``kind``,
    JSON ``data`` and the orchestrator's time ``at`` (UTC). A record riding in a step's input may be brief
    (:meth:`brief_for`); :meth:`filled` makes it whole again before the append."""

    record_id: str
    kind: str
    data: dict[str, Any]
    at: IsoDatetime
    #: Paths (``key`` or ``key.sub``) in the carrying step's input whose values complete ``data`` before the
    #: append, each under its last segment, after the keys ``data`` holds (a record riding in a step's input
    #: that holds the same value, e.g. the close notice's ``outcome``: not copied twice; :meth:`brief_for`).
    fill_from: list[str] | None = None
    #: A path (``key.sub.0``: list items by index) in the carrying step's input whose value is the
    #: record's whole ``data`` (before ``fill_from``): the approver's decision riding in
    #: ``apply_action``'s input is its ``approval.accepted.0`` (orchestration version 5.0).
    data_from: str | None = None

    @model_serializer(mode="wrap")
    def _without_unset_fill(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in ("fill_from", "data_from"):
            if data.get(key) is None:
                data.pop(key, None)  # the record's JSON as before the field existed
        return data

    def brief_for(self, step_input: dict[str, Any], *, lean: bool = False) -> AuditRecordIn:
        """This record as it rides in ``step_input`` (the carrying step's input JSON): trailing ``data``
        values larger than 64 bytes of JSON that the input holds too, at the same key or one level down
        (``request.pack``), are left out and named in ``fill_from``; :meth:`filled` puts them back. The
        orchestrator keeps the whole record, so a record that ends up riding with another step (a retry, a
        budget stop) is never incomplete. ``lean`` (orchestration version 5.0; activities of 4.0 cannot read
        it): also a ``record_id`` relative to the input's case (``:005:decision``), and a ``data`` the input
        holds whole (e.g. ``approval.accepted.0``) left out and named in ``data_from``."""
        whole = _find(step_input, self.data) if lean and len(json.dumps(self.data)) > 64 else None
        keys: list[str] = [] if whole is not None else list(self.data)
        fill: list[str] = []
        while keys:
            key, value = keys[-1], self.data[keys[-1]]
            if len(json.dumps(value)) <= 64:
                break
            paths = [key, *(f"{k}.{key}" for k, v in step_input.items() if isinstance(v, dict))]
            path = next((p for p in paths if _at(step_input, p) == value), None)
            if path is None:
                break
            fill.insert(0, path)
            keys.pop()
        case_id = _case_of(step_input) if lean else None
        record_id = self.record_id
        if case_id and record_id.startswith(case_id + ":"):
            record_id = record_id[len(case_id):]
        if not fill and whole is None and record_id == self.record_id:
            return self
        brief: dict[str, Any] = {"record_id": record_id, "kind": self.kind, "at": self.at,
                                 "data": {k: self.data[k] for k in keys}}
        if fill:
            brief["fill_from"] = fill
        if whole is not None:
            brief["data_from"] = whole
        return AuditRecordIn.model_validate(brief)

    def filled(self, step_input: dict[str, Any]) -> AuditRecordIn:
        """This record with ``data`` completed from ``step_input`` (the carrying step's input JSON) for
        ``data_from`` and the paths in ``fill_from``, and a relative ``record_id`` (``:005:decision``)
        prefixed with the input's case id. Raises ``ValueError`` when one of them is missing there."""
        if not self.fill_from and self.data_from is None and not self.record_id.startswith(":"):
            return self
        record_id = self.record_id
        if record_id.startswith(":"):
            case_id = _case_of(step_input)
            if not case_id:
                raise ValueError(f"audit record {record_id}: the step input names no case")
            record_id = case_id + record_id
        data = self.data
        if self.data_from is not None:
            base = _at(step_input, self.data_from)
            if not isinstance(base, dict):
                raise ValueError(f"audit record {record_id}: the step input lacks {self.data_from}")
            data = {**base, **data}
        values = {p: _at(step_input, p) for p in self.fill_from or []}
        missing = [p for p, v in values.items() if v is None]
        if missing:
            raise ValueError(f"audit record {record_id}: the step input lacks {missing}")
        data = {**data, **{p.rsplit(".", 1)[-1]: v for p, v in values.items()}}
        return AuditRecordIn(record_id=record_id, kind=self.kind, data=data, at=self.at)


def _at(document: dict[str, Any], path: str) -> Any:
    """The value at ``path`` (``key``, ``key.sub``; a digit segment indexes a list) of ``document``, None
    when absent."""
    value: Any = document
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def _find(document: dict[str, Any], wanted: Any) -> str | None:
    """The first path (``key``, ``key.sub``, ``key.sub.N``) of ``document`` whose value equals ``wanted``."""
    for key, value in document.items():
        if value == wanted:
            return key
        for sub, inner in value.items() if isinstance(value, dict) else ():
            if inner == wanted:
                return f"{key}.{sub}"
            for index, item in enumerate(inner) if isinstance(inner, list) else ():
                if item == wanted:
                    return f"{key}.{sub}.{index}"
    return None


def _case_of(step_input: dict[str, Any]) -> str | None:
    """The case a step input is about: its ``case_instance_id``, or its ``request``'s (a notice)."""
    request = step_input.get("request")
    case_id = step_input.get("case_instance_id") or (request.get("case_instance_id") if isinstance(
        request, dict) else None)
    return case_id if isinstance(case_id, str) and case_id else None


class StepInput(StepModel):
    """Base of activity inputs: ``trace_context`` is the W3C context the orchestrator adds to every input
    (``shared.telemetry.with_trace_context``); the activity's span becomes its child. ``audit``: the case's
    audit records flushed with this step (orchestration version 2 on, ``orchestrations/versions.py``):
    ``@case_step`` appends them to the case's trail (idempotent per record id) before the step's body runs,
    beside it for ``apply_action`` and ``notify`` (``audit_beside``: apply's effect and a request to decide
    wait for the append) and after it for ``decide_policy`` (``activities/step.py``), instead of a
    ``record_audit`` activity beside the step."""

    trace_context: dict[str, str] | None = None
    audit: list[AuditRecordIn] | None = None


__all__ = ["AuditRecordIn", "IsoDatetime", "StepInput", "StepModel"]
