"""Customers: profiles, phone numbers in E.164, the in-memory index the screen-pop reads."""
