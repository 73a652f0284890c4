"""Transfers and escalation tiers from the agent console (docs/transfers.md)."""
