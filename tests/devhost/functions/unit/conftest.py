"""Unit tier: pure tests, no sockets or processes (enforced by the fixture below)."""

from tests.fixtures.unit_tier import no_sockets_or_processes

__all__ = ["no_sockets_or_processes"]
