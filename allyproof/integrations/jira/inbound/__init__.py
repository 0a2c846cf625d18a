"""Jira to AllyProof: webhook intake, the sync decision, applying it, reconciliation, the sync log."""
