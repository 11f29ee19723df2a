"""Errors raised by tool adapters.

:class:`TransientAdapterError` means "try again later" (5xx, timeouts, connection failures): let it escape the
activity so the orchestrator's retry policy runs the apply again (the ledger and the adapter keep that safe).
:class:`PermanentAdapterError` means retrying cannot help (4xx, a malformed request): ``apply_action`` returns
it to the orchestrator as a refused side effect (a business outcome) and never retries it.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base class of adapter errors; ``tool`` names the adapter.

    ``not_applied`` is True when the error is known to have left the downstream untouched (nothing was sent,
    only a read failed, or the downstream refused before acting): the ledger then releases its claim so the
    next attempt acts at once (``shared.ledger.apply_once``). False means "unknown": the request may have
    had its effect.
    """

    not_applied: bool = True

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(f"{tool}: {message}")
        self.tool = tool


class UnknownAdapter(AdapterError):
    """No adapter is registered under the requested tool name."""


class InvalidActionRequest(AdapterError):
    """The request lacks a parameter the adapter needs (``parameter`` names it)."""

    def __init__(self, tool: str, parameter: str, message: str) -> None:
        super().__init__(tool, f"parameter {parameter!r}: {message}")
        self.parameter = parameter


class TransientAdapterError(AdapterError):
    """The downstream failed in a way a later retry may fix (5xx, timeout, unreachable).

    ``not_applied`` (default False: unknown) is True when nothing reached the downstream (connection
    refused), the call was a read, or the answer says it did not act (429, 503).
    """

    def __init__(self, tool: str, message: str, *, not_applied: bool = False) -> None:
        super().__init__(tool, message)
        self.not_applied = not_applied


class PermanentAdapterError(AdapterError):
    """The downstream refused the request (4xx); retrying the same request will not help."""

    def __init__(self, tool: str, message: str, status_code: int | None = None) -> None:
        super().__init__(tool, message)
        self.status_code = status_code
