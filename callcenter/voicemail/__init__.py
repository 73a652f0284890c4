"""Voicemail left by callers who leave a queue with its voicemail key: each message becomes a
work item holding the recording."""
