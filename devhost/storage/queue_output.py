"""Queue output binding: turn what a function set on ``func.Out`` / returned into queue messages, send
them (queue created if missing, body encoded per ``messageEncoding``), and wake a local listener.

Value rules (host ``FunctionBinding.ReadAsEnumerable`` + worker ``QueueMessageOutConverter``, see
docs/host-behaviour.md#queue-trigger-and-output): a list/tuple → one message per element; a string that is a
JSON array →
one message per element; a string that is a JSON object → re-serialised; ``func.QueueMessage`` → JSON
``{"id", "body"}``; ``bytes`` as is; a dict/number → its JSON (devhost is lenient where the worker
raises). ``None`` sends nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func

from devhost.storage.clients import StorageClients
from devhost.storage.names import encode_body


def _element(item: Any) -> str | bytes:
    if isinstance(item, str | bytes):
        return item
    if isinstance(item, func.QueueMessage):
        return json.dumps({"id": item.id, "body": item.get_body().decode("utf-8")})
    return json.dumps(item, indent=2)


def message_bodies(value: Any) -> list[str | bytes]:
    """Bodies to send for one output value (possibly none). Raises TypeError for unsupported values."""
    if value is None:
        return []
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("[", "{")):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                return [value]
            if isinstance(parsed, list):
                return [_element(x) for x in parsed]
            return [json.dumps(parsed, indent=2)]
        return [value]
    if isinstance(value, list | tuple):
        return [_element(x) for x in value]
    if isinstance(value, func.QueueMessage | dict | int | float | bool):
        return [_element(value)]
    raise TypeError(f"unsupported queue output value of type {type(value).__name__}")


class QueueSender:
    """Sends encoded messages; ``notify(queue)`` wakes this host's listener on that queue
    (docs/host-behaviour.md#queue-trigger-and-output)."""

    def __init__(self, clients: StorageClients, encoding: str, notify: Callable[[str], None]) -> None:
        self.clients = clients
        self.encoding = encoding
        self.notify = notify

    async def send(
        self, connection: str | None, queue: str, bodies: list[str | bytes], *, raw: bool = False
    ) -> None:
        """Send ``bodies`` to ``queue`` (created if missing). ``raw`` sends the text verbatim (used for
        an undecodable message moved to poison)."""
        if not bodies:
            return
        await self.clients.ensure_queue(connection, queue)
        client = self.clients.queue(connection, queue)
        for body in bodies:
            wire = body if raw and isinstance(body, str) else encode_body(body, self.encoding)
            await client.send_message(wire)
        self.notify(queue)
