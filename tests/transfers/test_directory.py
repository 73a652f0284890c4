"""The transfer directory, pure (callcenter/transfers/directory.py): how the PBX reaches each
kind of target, which tier a call is in, and which target "escalate" picks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callcenter.transfers.directory import (
    FIRST_LINE,
    Route,
    Target,
    escalation_target,
    route_of,
    tier_of_queue,
)

PBX = "pbx1"


def target(
    slug: str,
    tier: int,
    kind: str = "queue",
    *,
    queue: str | None = None,
    interfaces: tuple[str, ...] = (),
    number: str | None = None,
    trunk_context: str | None = None,
    escalation: bool = False,
) -> Target:
    return Target(
        slug,
        f"{slug}-zh",
        f"{slug}-en",
        tier,
        kind,
        queue=queue,
        interfaces=interfaces,
        number=number,
        trunk_context=trunk_context,
        escalation=escalation,
    )


FRONT = target("front", 1, queue="support")
BILLING = target("billing", 2, queue="billing")
TECH = target("tech", 2, queue="tech")
MANAGERS = target("managers", 3, "interfaces", interfaces=("PJSIP/9001",), escalation=True)
DIRECTORS = target("directors", 4, "interfaces", interfaces=("PJSIP/9100",), escalation=True)


# --- route_of -----------------------------------------------------------------------------


def test_a_queue_target_is_reached_through_its_queue() -> None:
    assert route_of(target("billing", 2, queue="billing-q")) == Route("queue", "billing-q")


def test_a_team_of_phones_is_dialled_all_at_once() -> None:
    team = target("managers", 3, "interfaces", interfaces=("PJSIP/9001", "PJSIP/9002", "SIP/77"))
    assert route_of(team) == Route("dial", "PJSIP/9001&PJSIP/9002&SIP/77")


def test_a_single_phone_is_dialled_alone() -> None:
    assert route_of(target("desk", 2, "interfaces", interfaces=("PJSIP/9001",))) == Route(
        "dial", "PJSIP/9001"
    )


def test_an_outside_number_is_dialled_through_its_trunk_context() -> None:
    bank = target("bank", 2, "external", number="+862150001234", trunk_context="from-trunk")
    assert route_of(bank) == Route("dial", "Local/+862150001234@from-trunk")


@pytest.mark.parametrize(
    "incomplete",
    [
        target("q", 2, "queue"),
        target("q", 2, "queue", queue=""),
        target("team", 2, "interfaces"),
        target("bank", 2, "external", number="+862150001234"),
        target("bank", 2, "external", trunk_context="from-trunk"),
        target("bank", 2, "external", number="", trunk_context="from-trunk"),
        # the fields of another kind do not make a target complete
        target("odd", 2, "interfaces", queue="support"),
        target("odd", 2, "external", interfaces=("PJSIP/9001",)),
        target("odd", 2, "fax", queue="support"),
    ],
)
def test_an_incomplete_target_has_no_route(incomplete: Target) -> None:
    with pytest.raises(ValueError, match=f"transfer target {incomplete.slug} is incomplete"):
        route_of(incomplete)


# --- tier_of_queue ------------------------------------------------------------------------


def test_a_call_is_in_the_tier_of_the_queue_it_came_through() -> None:
    targets = [FRONT, BILLING, MANAGERS]
    assert tier_of_queue(targets, PBX, "billing") == 2
    assert tier_of_queue(targets, PBX, "support") == 1


def test_a_call_from_a_queue_outside_the_directory_is_first_line() -> None:
    assert tier_of_queue([BILLING, MANAGERS], PBX, "sales") == FIRST_LINE == 1
    assert tier_of_queue([BILLING], PBX, None) == FIRST_LINE
    assert tier_of_queue([], PBX, "billing") == FIRST_LINE


def test_two_targets_on_one_queue_give_the_lower_tier() -> None:
    second = target("billing-2", 3, queue="billing")
    assert tier_of_queue([second, BILLING], PBX, "billing") == 2


def test_a_disabled_or_other_pbx_queue_target_does_not_set_the_tier() -> None:
    disabled = replace(BILLING, enabled=False)
    elsewhere = replace(BILLING, pbx="pbx2")
    assert tier_of_queue([disabled], PBX, "billing") == FIRST_LINE
    assert tier_of_queue([elsewhere], PBX, "billing") == FIRST_LINE
    assert tier_of_queue([elsewhere], "pbx2", "billing") == 2
    # a target without a PBX serves every PBX
    assert tier_of_queue([BILLING], "pbx2", "billing") == 2


def test_only_queue_targets_set_the_tier() -> None:
    phones = target("managers", 3, "interfaces", interfaces=("PJSIP/9001",), queue="billing")
    assert tier_of_queue([phones], PBX, "billing") == FIRST_LINE


# --- escalation_target --------------------------------------------------------------------


def test_escalation_goes_to_the_lowest_tier_above_that_has_a_target() -> None:
    targets = [DIRECTORS, FRONT, BILLING, MANAGERS]
    assert escalation_target(targets, PBX, 1) == MANAGERS
    assert escalation_target(targets, PBX, 2) == MANAGERS
    assert escalation_target(targets, PBX, 3) == DIRECTORS


def test_escalation_skips_targets_not_marked_for_it() -> None:
    # billing and tech are tier 2 but are not escalation targets
    assert escalation_target([BILLING, TECH, DIRECTORS], PBX, 1) == DIRECTORS


def test_a_target_of_the_calls_own_tier_is_not_above_it() -> None:
    same = target("leads", 2, "interfaces", interfaces=("PJSIP/9300",), escalation=True)
    assert escalation_target([same], PBX, 2) is None
    assert escalation_target([same], PBX, 1) == same


def test_ties_in_a_tier_go_by_slug() -> None:
    zeta = target("zeta", 3, "interfaces", interfaces=("PJSIP/9201",), escalation=True)
    alpha = target("alpha", 3, "interfaces", interfaces=("PJSIP/9202",), escalation=True)
    assert escalation_target([zeta, MANAGERS, alpha], PBX, 1) == alpha
    assert escalation_target([MANAGERS, zeta], PBX, 1) == MANAGERS


def test_disabled_and_other_pbx_targets_are_not_escalated_to() -> None:
    off = replace(MANAGERS, enabled=False)
    elsewhere = replace(MANAGERS, slug="managers-2", pbx="pbx2")
    assert escalation_target([off, elsewhere, DIRECTORS], PBX, 1) == DIRECTORS
    assert escalation_target([off, elsewhere, DIRECTORS], "pbx2", 1) == elsewhere
    here = replace(MANAGERS, pbx=PBX)
    assert escalation_target([here], PBX, 1) == here


def test_no_escalation_target_above_is_none() -> None:
    assert escalation_target([FRONT, BILLING, MANAGERS], PBX, 3) is None
    assert escalation_target([FRONT, BILLING, TECH], PBX, 1) is None
    assert escalation_target([], PBX, 1) is None


# --- a target -----------------------------------------------------------------------------


def test_a_target_without_a_pbx_serves_every_pbx() -> None:
    assert BILLING.serves("pbx1") and BILLING.serves("pbx2")
    pinned = replace(BILLING, pbx="pbx1")
    assert pinned.serves("pbx1") and not pinned.serves("pbx2")


def test_a_target_is_labelled_in_the_users_language_chinese_by_default() -> None:
    assert BILLING.label("en") == "billing-en"
    assert BILLING.label("zh") == "billing-zh"
    assert BILLING.label("fr") == "billing-zh"
