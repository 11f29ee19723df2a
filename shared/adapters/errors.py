"""Errors raised by tool adapters.

:class:`TransientAdapterError` means "try again later" (5xx, timeouts, connection failures): let it escape the
activity so the orchestrator's retry policy runs the apply again (the ledger and the adapter keep that safe).
:class:`PermanentAdapterError` means retrying cannot help (4xx, a malformed request, a tool without its
credentials: :class:`ToolNotConfigured`). ``apply_action`` does not let it escape: it returns the refusal
(``status: "refused"``, ``permanent: True``) and the orchestrator closes the case as failed with that reason
at once (a business outcome), never retrying it.
"""

from __future__ import annotations

from shared.case_errors import DependencyError


class AdapterError(DependencyError):
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


class ToolNotConfigured(PermanentAdapterError):
    """The tool lacks a setting it needs to act (``setting`` names it, e.g. ``GITHUB_TOKEN``): a
    configuration error, reported once at start (``shared.adapters.configuration_problems``) and failing
    each case that applies the tool immediately, without retries."""

    def __init__(self, tool: str, setting: str, message: str) -> None:
        super().__init__(tool, message)
        self.setting = setting


def permanent_failure(key: str, exc: PermanentAdapterError) -> dict[str, object]:
    """The ``apply_action`` result for a permanent adapter error (JSON): ``{"key", "status": "failed",
    "permanent": True, "error", "replayed": False, "attempts": 1, "result": None}``; the orchestrator fails
    the case with ``error`` as the reason."""
    return {"key": key, "status": "failed", "permanent": True, "error": str(exc), "replayed": False,
            "attempts": 1, "result": None}
