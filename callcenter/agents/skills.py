"""Skills and how they become queue memberships and penalties. Pure.

A skill is a queue the agent can serve (``queue:support``) or a language they speak
(``lang:en``), each with a level from 1 (backup) to 5 (expert). The rule, documented in
``docs/agents.md``:

* the agent is a member of each queue they have a skill for (on the PBX where they sign in,
  when that PBX has the queue);
* the penalty is ``5 - level``: experts (5) get penalty 0 and ring first; Asterisk rings a
  higher penalty only when every member with a lower one is busy, paused or unavailable, so
  lower levels back the experts up;
* a queue that serves one language (``agents.queue_languages``) takes only agents with that
  language skill, and their level there is the lower of the two.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

MIN_LEVEL = 1
MAX_LEVEL = 5
LANGUAGES = ("zh", "en")
QUEUE_PREFIX = "queue:"
LANG_PREFIX = "lang:"
SKILL_PATTERN = re.compile(r"^(queue:[^\x00-\x1f\x7f,|]{1,80}|lang:(zh|en))$")


def penalty_of(level: int) -> int:
    return MAX_LEVEL - level


def queue_skill(queue: str) -> str:
    return QUEUE_PREFIX + queue


@dataclass(frozen=True, slots=True)
class Membership:
    queue: str
    level: int
    penalty: int


@dataclass(frozen=True, slots=True)
class Plan:
    memberships: tuple[Membership, ...]
    # Skills that give no membership on this PBX, and why (shown to the agent).
    skipped: tuple[tuple[str, str], ...] = ()


def plan_memberships(
    skills: Mapping[str, int],
    queues_on_pbx: Collection[str],
    queue_languages: Mapping[str, str],
) -> Plan:
    """The queues (and penalties) an agent with these skills joins on one PBX."""
    memberships: list[Membership] = []
    skipped: list[tuple[str, str]] = []
    for skill, level in sorted(skills.items()):
        if not skill.startswith(QUEUE_PREFIX):
            continue
        queue = skill.removeprefix(QUEUE_PREFIX)
        if queue not in queues_on_pbx:
            skipped.append((queue, "no such queue on this PBX"))
            continue
        language = queue_languages.get(queue)
        if language is not None:
            spoken = skills.get(LANG_PREFIX + language)
            if spoken is None:
                skipped.append((queue, f"the queue serves {language} callers"))
                continue
            level = min(level, spoken)
        memberships.append(Membership(queue, level, penalty_of(level)))
    return Plan(tuple(memberships), tuple(skipped))
