"""Orchestrators of the case workflow (deterministic: no I/O, clocks, randomness or settings reads)."""
