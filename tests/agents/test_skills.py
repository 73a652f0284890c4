"""Skills into queue memberships and penalties (pure): the rule the console and the roster
show, checked on the plans an agent's skills give on one PBX."""

from __future__ import annotations

import pytest

from callcenter.agents.skills import (
    SKILL_PATTERN,
    Membership,
    Plan,
    penalty_of,
    plan_memberships,
)

ON_PBX = {"support", "billing", "english", "chinese"}
LANGUAGES = {"english": "en", "chinese": "zh"}


@pytest.mark.parametrize(("level", "penalty"), [(5, 0), (4, 1), (3, 2), (2, 3), (1, 4)])
def test_the_penalty_is_five_minus_the_level(level: int, penalty: int) -> None:
    assert penalty_of(level) == penalty


def test_each_queue_skill_the_pbx_has_is_a_membership_experts_ringing_first() -> None:
    plan = plan_memberships({"queue:support": 5, "queue:billing": 2}, ON_PBX, {})
    assert plan == Plan(
        (Membership("billing", 2, 3), Membership("support", 5, 0)),
        (),
    )


def test_a_language_skill_alone_joins_no_queue() -> None:
    assert plan_memberships({"lang:en": 5, "lang:zh": 5}, ON_PBX, LANGUAGES) == Plan((), ())


def test_a_language_queue_takes_the_lower_of_the_queue_and_language_levels() -> None:
    # Fluent English (5) but a backup on the queue (2): level 2.
    plan = plan_memberships({"queue:english": 2, "lang:en": 5}, ON_PBX, LANGUAGES)
    assert plan.memberships == (Membership("english", 2, 3),)
    # An expert on the queue (5) with some English (3): level 3.
    plan = plan_memberships({"queue:english": 5, "lang:en": 3}, ON_PBX, LANGUAGES)
    assert plan.memberships == (Membership("english", 3, 2),)
    assert plan.skipped == ()


def test_a_language_queue_needs_the_language_skill() -> None:
    plan = plan_memberships(
        {"queue:english": 5, "queue:chinese": 4, "queue:support": 3, "lang:zh": 4},
        ON_PBX,
        LANGUAGES,
    )
    assert plan.memberships == (Membership("chinese", 4, 1), Membership("support", 3, 2))
    assert plan.skipped == (("english", "the queue serves en callers"),)


def test_queues_the_pbx_lacks_are_skipped_with_a_reason() -> None:
    plan = plan_memberships(
        {"queue:support": 4, "queue:outbound": 5, "queue:vip": 3}, {"support"}, {}
    )
    assert plan.memberships == (Membership("support", 4, 1),)
    assert plan.skipped == (
        ("outbound", "no such queue on this PBX"),
        ("vip", "no such queue on this PBX"),
    )


def test_no_skills_no_memberships() -> None:
    assert plan_memberships({}, ON_PBX, LANGUAGES) == Plan((), ())


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("queue:support", True),
        ("queue:售后", True),
        ("lang:zh", True),
        ("lang:en", True),
        ("lang:fr", False),
        ("queue:", False),
        ("queue:a,b", False),
        ("queue:a|b", False),
        ("queue:a\nb", False),
        ("support", False),
    ],
)
def test_skill_names(name: str, valid: bool) -> None:
    assert bool(SKILL_PATTERN.match(name)) is valid
