"""What a parameter wants, from its annotation: ``func.QueueMessage`` / ``str`` / ``bytes`` for a queue
trigger, ``str`` / ``bytes`` / ``func.InputStream`` for a blob input, as the Python worker's converters
decide (azure-functions ``queue.QueueMessageInConverter``, ``blob.BlobConverter``).
"""

from __future__ import annotations

import inspect
from typing import Any

from devhost.functions.interfaces import FunctionInfo


def annotation_of(function: FunctionInfo, param: str) -> Any:
    """The (evaluated) annotation of ``param`` on the user handler; ``inspect.Parameter.empty`` if none."""
    handler = function.handler
    try:
        sig = inspect.signature(handler, eval_str=True)
    except (NameError, TypeError, ValueError):
        try:
            sig = inspect.signature(handler)
        except (TypeError, ValueError):
            return inspect.Parameter.empty
    p = sig.parameters.get(param)
    return inspect.Parameter.empty if p is None else p.annotation


def wants(annotation: Any, kind: type) -> bool:
    """True when ``annotation`` is ``kind`` (or a subclass), or the string name of it."""
    if isinstance(annotation, str):
        return annotation.split(".")[-1] == kind.__name__
    return isinstance(annotation, type) and issubclass(annotation, kind)


def data_type(binding: dict[str, Any] | Any) -> str:
    """The binding's ``dataType`` (``string`` / ``binary`` / ``stream``), lower-cased, or ``""``."""
    return str(binding.get("dataType") or "").lower()
