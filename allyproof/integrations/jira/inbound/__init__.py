"""Jira to AllyProof: webhook intake, the worker that applies it, the sync decision, reconciliation."""
