"""Binding expressions in blob paths and queue names: ``{id}``, ``{queueTrigger}``, ``{rand-guid}``,
``{DateTime}``, ``{sys.utcnow}``, ``{sys.randguid}``, nested ``{data.id}``, and ``%Setting%``.

Mirrors webjobs-sdk ``Bindings/Path/BindingTemplate.cs`` and ``BindingParameterResolver.cs``
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-expressions-patterns): names are
looked up case-insensitively in the trigger data (trigger metadata such as ``Id`` / ``QueueTrigger`` /
``DequeueCount`` plus the top-level properties of a JSON message); ``{DateTime}`` is UTC formatted
``yyyy-MM-ddTHH-mm-ssK`` (``2024-05-01T10-00-00Z``). A name with no value raises
:class:`BindingExpressionError` ("No value for named parameter 'x'.", the host's message).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from devhost.storage.errors import BindingExpressionError

_TOKEN = re.compile(r"\{([^{}]+)\}")


def trigger_data(metadata: Mapping[str, Any], body_text: str | None = None) -> dict[str, Any]:
    """Trigger metadata plus, when ``body_text`` is a JSON object, its top-level properties
    (metadata wins on a clash, as in the host's binding data)."""
    data: dict[str, Any] = {}
    if body_text:
        try:
            parsed = json.loads(body_text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            data.update(parsed)
    data.update(metadata)
    return data


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            raise KeyError(dotted)
        if part in current:
            current = current[part]
            continue
        folded = {str(k).lower(): k for k in current}
        if part.lower() not in folded:
            raise KeyError(dotted)
        current = current[folded[part.lower()]]
    return current


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def render(
    template: str,
    data: Mapping[str, Any],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    resolve_settings: Callable[[str], str] | None = None,
) -> str:
    """Fill ``template`` from trigger ``data``; ``now`` is the host clock (UTC).

    Raises BindingExpressionError for a name without a value (and the resolver's ConfigError for an
    unknown ``%Setting%``).
    """
    text = resolve_settings(template) if resolve_settings else template

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        key = expr.lower()
        if key in ("rand-guid", "sys.randguid"):
            return str(uuid.uuid4())
        if key == "datetime":
            return now().astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
        if key == "sys.utcnow":
            return now().astimezone(UTC).isoformat().replace("+00:00", "Z")
        try:
            return _text(_lookup(data, expr))
        except KeyError:
            raise BindingExpressionError(f"No value for named parameter '{expr}'.") from None

    return _TOKEN.sub(sub, text)
