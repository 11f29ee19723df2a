"""Unit tier of the app tests: pure tests, no sockets or child processes, so no Azurite and no devhost
(enforced for every test below this directory by the autouse fixture imported here)."""

from tests.fixtures.unit_tier import no_sockets_or_processes

__all__ = ["no_sockets_or_processes"]
