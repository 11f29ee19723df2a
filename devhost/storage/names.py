"""Queue and container names, and queue message encodings, as the Storage extension handles them.

Names: ``%Setting%`` resolved, lower-cased, then validated: 3–63 characters of lowercase letters, digits
and ``-``, starting and ending with a letter or digit, no ``--``
(https://learn.microsoft.com/rest/api/storageservices/naming-queues-and-metadata).

Encodings: host.json ``extensions.queues.messageEncoding`` ``base64`` (default) or ``none``; the trigger
decodes, outputs and poison copies encode (azure-sdk-for-net ``QueueServiceClientProvider``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from devhost.storage.errors import InvalidResourceNameError

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$")
POISON_SUFFIX = "-poison"


def storage_name(raw: str, kind: str = "queue") -> str:
    """Lower-case and validate a queue or container name (already ``%``-resolved).

    Raises InvalidResourceNameError naming the rule broken.
    """
    name = raw.strip().lower()
    if not 3 <= len(name) <= 63 or not _NAME.match(name):
        raise InvalidResourceNameError(
            f"invalid {kind} name {raw!r}: use 3-63 lowercase letters, digits and single '-' "
            "(not at the start or end)"
        )
    return name


def poison_queue_name(queue: str) -> str | None:
    """``<queue>-poison``, or None when the queue is itself a poison queue or the name would be too long
    (then the host keeps failed messages in place)."""
    if queue.endswith(POISON_SUFFIX) or len(queue) + len(POISON_SUFFIX) > 63:
        return None
    return queue + POISON_SUFFIX


def message_encoding(options: Mapping[str, Any]) -> str:
    """host.json ``messageEncoding`` normalised to ``base64`` or ``none`` (ValueError otherwise)."""
    value = str(options.get("messageEncoding") or "base64").lower()
    if value not in ("base64", "none"):
        raise ValueError(f"extensions.queues.messageEncoding must be base64 or none, not {value!r}")
    return value


def encode_body(body: str | bytes, encoding: str) -> str:
    """Wire text of a message body under ``encoding`` (base64 of the UTF-8 bytes, or the text itself)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    return raw.decode("utf-8") if isinstance(body, bytes) else body


def decode_body(wire: str, encoding: str) -> bytes:
    """Bytes of a received message. Base64 tolerates whitespace like .NET ``Convert.FromBase64String``.

    Raises ValueError when ``encoding`` is base64 and ``wire`` is not valid base64.
    """
    if encoding != "base64":
        return wire.encode("utf-8")
    compact = "".join(wire.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("message is not valid base64") from exc
