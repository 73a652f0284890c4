"""The ways the agents room refuses a request, named once (``raise NO_QUEUES("...")``)."""

from __future__ import annotations

from callcenter.ami.problems import PBX_REFUSED, PBX_TIMEOUT, PBX_UNAVAILABLE
from callcenter.web.errors import Problem

PHONE_TAKEN = Problem(409, "phone-taken", "another agent is signed in at that phone")
SIGNED_IN_ELSEWHERE = Problem(
    409, "signed-in-elsewhere", "the agent is signed in at another phone: sign out there first"
)
NO_SUCH_PHONE = Problem(409, "no-such-phone", "the PBX does not know that phone")
NO_QUEUES = Problem(409, "no-queues", "the agent's skills name no queue of that PBX")
PBX_REQUIRED = Problem(400, "pbx-required", "several PBXs are configured: name one")
NO_SUCH_PBX = Problem(404, "no-such-pbx", "no PBX of that name")
NOT_SIGNED_IN = Problem(409, "not-signed-in", "the agent is not signed in at a phone")
NO_SUCH_CODE = Problem(404, "no-such-code", "no active not-ready code of that name")
CODE_FULL = Problem(409, "code-full", "the code has as many agents as it allows")
NO_SUCH_AGENT = Problem(404, "no-such-agent", "no user of that id")
NO_SUCH_SKILL_QUEUE = Problem(404, "no-such-queue", "no PBX has a queue of that name")
OUTSIDE_YOUR_TEAMS = Problem(403, "outside-your-teams", "that agent or queue is not in your teams")
NOT_STORED = Problem(503, "database-unavailable", "the database did not store the change")

SIGN_IN_PROBLEMS = (
    PHONE_TAKEN,
    SIGNED_IN_ELSEWHERE,
    NO_SUCH_PHONE,
    NO_QUEUES,
    PBX_REQUIRED,
    NO_SUCH_PBX,
    PBX_REFUSED,
    PBX_UNAVAILABLE,
    PBX_TIMEOUT,
)
PBX_PROBLEMS = (PBX_REFUSED, PBX_UNAVAILABLE, PBX_TIMEOUT)
# Reasons a phone sign-in answers (FastAGI AGENT_RESULT), by problem id.
PHONE_RESULTS = {
    PHONE_TAKEN.error: "phone-taken",
    SIGNED_IN_ELSEWHERE.error: "signed-in-elsewhere",
    NO_SUCH_PHONE.error: "no-such-phone",
    NO_QUEUES.error: "no-queues",
    NOT_SIGNED_IN.error: "not-signed-in",
}
