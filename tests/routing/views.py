"""Hand-made live-model views for the pure routing tests (a controlled clock, no PBX)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from callcenter.live.changes import CallerView, MemberView, QueueView, WindowStats

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def caller(uniqueid: str, joined: float, position: int = 1, queue: str = "support") -> CallerView:
    return CallerView(
        pbx="rig",
        queue=queue,
        uniqueid=uniqueid,
        linkedid=uniqueid,
        channel=f"PJSIP/caller-{uniqueid}",
        caller_num="13800000000",
        caller_name="",
        position=position,
        joined_at=at(joined),
        priority=0,
        ivr=MappingProxyType({"CC_LANG": "zh"}),
    )


def member(interface: str, state: str = "available") -> MemberView:
    return MemberView(
        pbx="rig",
        queue="support",
        interface=interface,
        name=interface,
        state_interface=interface,
        status=1,
        state=state,  # type: ignore[arg-type]
        paused=False,
        paused_reason="",
        penalty=0,
        ringinuse=False,
        calls_taken=0,
        last_call=None,
        in_call=False,
        membership="static",
        wrapup_seconds=0,
    )


def stats(
    *,
    offered: int = 0,
    within: int = 0,
    answered: int = 0,
    aht: float | None = None,
    window: float = 900.0,
) -> WindowStats:
    sl = None if offered == 0 else within / offered
    return WindowStats(
        window_seconds=window,
        service_level_seconds=20,
        offered=offered,
        answered=answered,
        answered_within_sl=within,
        abandoned=0,
        short_abandons=0,
        timeouts=0,
        withdrawn=0,
        handled=answered,
        service_level_answered=sl,
        service_level_offered=sl,
        abandon_rate=None,
        answer_rate=None,
        asa_seconds=None,
        aht_seconds=aht,
    )


def view(
    now: float,
    callers: Sequence[CallerView] = (),
    *,
    available: int = 1,
    busy: int = 0,
    members: Sequence[MemberView] = (),
    window: WindowStats | None = None,
    queue: str = "support",
) -> QueueView:
    waits = [(at(now) - c.joined_at).total_seconds() for c in callers]
    return QueueView(
        pbx="rig",
        queue=queue,
        params=None,
        callers_waiting=len(callers),
        longest_wait_seconds=max(waits) if waits else None,
        agents_available=available,
        agents_busy=busy,
        agents_ringing=0,
        agents_paused=0,
        agents_unavailable=0,
        occupancy_now=None,
        members=tuple(members),
        callers=tuple(callers),
        stats=window or stats(),
    )
