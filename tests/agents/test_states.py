"""The one state model (pure): derived from the phone's memberships, the sign-in, after-call
work and calls; a code held too long is over its limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.agents.states import (
    OTHER,
    READY,
    SIGNED_OUT,
    AgentState,
    StateName,
    derive,
    over_limit,
)
from callcenter.live import MemberView
from callcenter.records.wrapup import WRAPUP_REASON

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CODES = ("break", "lunch", "training")


def member(queue: str = "support", **changes: object) -> MemberView:
    view = MemberView(
        pbx="rig",
        queue=queue,
        interface="PJSIP/2001",
        name="Wang",
        state_interface="PJSIP/2001",
        status=1,
        state="available",
        paused=False,
        paused_reason="",
        penalty=0,
        ringinuse=False,
        calls_taken=0,
        last_call=None,
        in_call=False,
        membership="dynamic",
        wrapup_seconds=0,
    )
    return replace(view, **changes)  # type: ignore[arg-type]


def paused(queue: str, reason: str) -> MemberView:
    return member(queue, paused=True, paused_reason=reason, state="paused")


def test_signed_out_whatever_the_phone_says() -> None:
    assert derive(False, [member()], CODES, None, NOW) is SIGNED_OUT
    assert derive(False, [], CODES, NOW + timedelta(seconds=30), NOW, on_call=True) is SIGNED_OUT


def test_signed_in_and_in_no_pause_is_ready() -> None:
    assert derive(True, [member(), member("billing")], CODES, None, NOW) == READY
    # Signed in, the PBX has not reported the memberships yet: ready.
    assert derive(True, [], CODES, None, NOW) == READY


@pytest.mark.parametrize(
    "members",
    [
        [member(in_call=True), member("billing")],
        [member(state="busy", status=2), member("billing")],
        # On a call even while paused elsewhere (a paused member may take a direct call).
        [paused("support", "lunch"), member("billing", state="busy")],
    ],
)
def test_in_a_call_or_busy_is_on_call(members: list[MemberView]) -> None:
    assert derive(True, members, CODES, None, NOW) == AgentState(StateName.ON_CALL)


def test_a_queue_call_connected_is_on_call_before_the_member_says_so() -> None:
    state = derive(True, [member()], CODES, None, NOW, on_call=True)
    assert state == AgentState(StateName.ON_CALL)


def test_the_wrapup_pause_is_after_call_work() -> None:
    members = [paused("support", WRAPUP_REASON), paused("billing", WRAPUP_REASON)]
    assert derive(True, members, CODES, None, NOW) == AgentState(
        StateName.ACW, reason=WRAPUP_REASON
    )


def test_after_call_work_lasts_until_acw_until() -> None:
    later = NOW + timedelta(seconds=30)
    assert derive(True, [member()], CODES, later, NOW) == AgentState(StateName.ACW)
    assert derive(True, [member()], CODES, later, later) == READY
    assert derive(True, [member()], CODES, NOW - timedelta(seconds=1), NOW) == READY


def test_a_pause_with_a_code_is_not_ready_with_that_code() -> None:
    members = [paused("support", "lunch"), paused("billing", "lunch")]
    assert derive(True, members, CODES, None, NOW) == AgentState(
        StateName.NOT_READY, "lunch", "lunch"
    )
    # A code wins over after-call work still running.
    state = derive(True, members, CODES, NOW + timedelta(seconds=30), NOW)
    assert state == AgentState(StateName.NOT_READY, "lunch", "lunch")


def test_a_pause_with_free_text_is_other_with_the_text() -> None:
    members = [paused("support", "smoke"), paused("billing", "smoke")]
    assert derive(True, members, CODES, None, NOW) == AgentState(
        StateName.NOT_READY, OTHER, "smoke"
    )
    # Paused with no reason at all (a phone's pause key).
    members = [paused("support", ""), paused("billing", "")]
    assert derive(True, members, CODES, None, NOW) == AgentState(StateName.NOT_READY, OTHER, "")


def test_paused_in_only_some_queues_is_still_ready() -> None:
    members = [paused("support", "lunch"), member("billing")]
    assert derive(True, members, CODES, None, NOW) == READY


def test_over_limit_only_for_a_not_ready_code_held_longer_than_its_limit() -> None:
    lunch = AgentState(StateName.NOT_READY, "lunch", "lunch")
    since = NOW - timedelta(seconds=901)
    assert over_limit(lunch, since, 900, NOW)
    assert not over_limit(lunch, NOW - timedelta(seconds=900), 900, NOW)
    assert not over_limit(lunch, since, None, NOW)
    assert not over_limit(READY, since, 900, NOW)
    assert not over_limit(AgentState(StateName.ACW), since, 900, NOW)
