"""Agents and teams: teams and their queues, skills, sign-in at any phone, coded states."""
