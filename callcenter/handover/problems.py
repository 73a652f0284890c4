"""The ways the handover room refuses a request, named once."""

from __future__ import annotations

from callcenter.web.errors import Problem

NO_SUCH_USER = Problem(404, "no-such-user", "no user of that id")
SELF_HANDOVER = Problem(400, "self-handover", "one cannot hand work over to oneself")
USER_DISABLED = Problem(409, "user-disabled", "that user's account is disabled")
NOT_AN_AGENT = Problem(
    409, "not-an-agent", "that user does not work items (no work:own): a planner, QA, an admin"
)
ALREADY_SUBMITTED = Problem(
    409, "already-submitted", "the same summary was submitted a moment ago: it is stored once"
)
SUCCESSOR_REQUIRED = Problem(400, "successor-required", "a permanent handover names a successor")
REASON_REQUIRED = Problem(
    400, "reason-required", "a permanent handover says why: leaving, job_change or absence"
)
NOTHING_TO_HAND_OVER = Problem(
    400, "nothing-to-hand-over", "no item and no summary: there is nothing to hand over"
)
DUPLICATE_ITEM = Problem(400, "duplicate-item", "an item is listed twice")
NO_TEAM = Problem(400, "no-team", "a handover to the team pool needs a team: name a successor")
ITEM_NOT_YOURS = Problem(409, "item-not-yours", "the item is not an open item of yours")
ITEM_IN_HANDOVER = Problem(409, "item-in-handover", "the item already waits in a handover")
NO_SUCH_HANDOVER = Problem(404, "no-such-handover", "no handover of that id")
NO_SUCH_HANDOVER_ITEM = Problem(404, "no-such-handover-item", "the handover has no such item")
NOT_THE_SUCCESSOR = Problem(403, "not-the-successor", "only the successor decides on an item")
NOT_THE_GIVER = Problem(403, "not-the-giver", "only the one who handed the work over may")
OUTSIDE_YOUR_TEAMS = Problem(
    403, "outside-your-teams", "that handover (or that user) is not in your teams"
)
HANDOVER_CLOSED = Problem(409, "handover-closed", "the handover is done or withdrawn")
ALREADY_DECIDED = Problem(
    409, "already-decided", "the item was decided on meanwhile: read the handover again"
)
ITEM_MOVED = Problem(
    409, "item-moved", "the item changed owner (or closed) meanwhile: nothing was changed"
)
NOT_STORED = Problem(503, "database-unavailable", "the database did not store the change")
