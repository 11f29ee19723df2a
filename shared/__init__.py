"""Plain code of the case workflow app: contracts, normalization, policy, evidence (audit, ledger), adapters.

Nothing in this package imports ``azure.functions``: triggers under ``triggers/`` parse the Functions
binding types and call in here with plain values, so everything below is testable without a host.
"""
