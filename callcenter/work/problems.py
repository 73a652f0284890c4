"""The ways the work-items room refuses a request, named once."""

from __future__ import annotations

from callcenter.web.errors import Problem

NO_SUCH_ITEM = Problem(404, "no-such-item", "no work item of that id or ticket")
NO_SUCH_CUSTOMER = Problem(404, "no-such-customer", "no customer of that id")
NO_SUCH_CALL = Problem(404, "no-such-call", "no call record of that id")
NOT_YOUR_CALL = Problem(403, "not-your-call", "an agent links only calls they answered")
NO_SUCH_USER = Problem(404, "no-such-user", "no active user of that id (unknown or disabled)")
NO_SUCH_TEAM = Problem(404, "no-such-team", "no team of that id")
UNKNOWN_CATEGORY = Problem(400, "unknown-category", "no work category of that code")
DUE_IN_PAST = Problem(400, "due-in-past", "a promised deadline cannot be in the past")
NOBODY_TO_CALL = Problem(400, "nobody-to-call", "a callback needs a number to call")
NO_OWNER = Problem(400, "no-owner", "name an owner or a team pool, not both empty")
FORBIDDEN_TRANSITION = Problem(
    409, "forbidden-transition", "the item's status cannot move that way"
)
STALE_ITEM = Problem(409, "stale-item", "the item changed since you read it: read it again")
NOT_YOUR_ITEM = Problem(403, "not-your-item", "only the owner or a supervisor of its team may")
OUTSIDE_YOUR_TEAMS = Problem(403, "outside-your-teams", "that item is not in your teams")
ITEM_CLOSED = Problem(409, "item-closed", "a resolved or closed item cannot be taken or assigned")
SELF_LINK = Problem(400, "self-link", "an item cannot be linked to itself")
NO_SUCH_DEPARTMENT = Problem(404, "no-such-department", "no department of that code")
NOT_STORED = Problem(503, "database-unavailable", "the database did not store the change")
