"""The audit log: who did what, from where, and what came of it."""
