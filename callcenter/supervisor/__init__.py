"""Supervisor console: live queue control, desired member state, audit log, wallboard."""
