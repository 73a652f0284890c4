"""The ways the work-log room refuses a request, named once."""

from __future__ import annotations

from callcenter.web.errors import Problem

FUTURE_DAY = Problem(400, "future-day", "a log is written for today or an earlier day")
DAY_TOO_OLD = Problem(400, "day-too-old", "that day is further back than logs are written")
BAD_PERIOD = Problem(400, "bad-period", "the period's last day is before its first, or too long")
UNKNOWN_CATEGORY = Problem(400, "unknown-category", "no work-log category of that code")
NO_SUCH_LOG = Problem(404, "no-such-log", "no work log of that id in your teams")
NO_SUCH_AGENT = Problem(404, "no-such-agent", "no agent of that id in your teams")
NO_SUCH_TEAM = Problem(404, "no-such-team", "no team of that id in your scope")
NOT_YOUR_LOG = Problem(403, "not-your-log", "agents read and write their own logs only")
OWN_LOG = Problem(403, "own-log", "nobody signs off or sends back their own log")
STALE_LOG = Problem(409, "stale-log", "the log changed since you read it: read it again")
ALREADY_SUBMITTED = Problem(409, "already-submitted", "the log is submitted already")
ALREADY_SIGNED = Problem(409, "already-signed", "the log is signed off: it cannot change")
NOT_SUBMITTED = Problem(409, "not-submitted", "only a submitted log is signed off or sent back")
