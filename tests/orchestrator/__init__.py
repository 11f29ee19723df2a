"""Orchestrator tests: the real orchestrators replayed by the SDK over built histories."""
