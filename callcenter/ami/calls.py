"""The agent's connected call, asked of the PBX when the live changes did not say it.

The rooms that act on a connected call (screening's abusive-caller button, transfers) follow
``live.connected.AgentCalls``; a call answered before this process started is there in the
live model (after the resync) but its channels are not: they are read from CoreShowChannels.
"""

from __future__ import annotations

from callcenter.ami import actions
from callcenter.ami.errors import AmiError
from callcenter.ami.problems import PBX_UNAVAILABLE, pbx_failure
from callcenter.component import LinkDirectory, LiveReader
from callcenter.live.connected import AgentCalls, ConnectedCall
from callcenter.web.errors import Problem

NOT_ON_A_CALL = Problem(409, "not-on-a-call", "the agent has no connected call")


async def connected_call(
    calls: AgentCalls, live: LiveReader, links: LinkDirectory, pbx: str, interface: str
) -> ConnectedCall | None:
    """The call the phone is connected to now, or None; ``ApiError`` when the PBX must be
    asked and cannot answer."""
    call = calls.connected(pbx, interface)
    if call is not None:
        return call
    view = next(
        (
            c
            for c in live.snapshot().calls
            if c.pbx == pbx and c.phase == "connected" and c.answered_by == interface
        ),
        None,
    )
    if view is None:
        return None
    link = links.connected(pbx)
    if link is None:
        raise PBX_UNAVAILABLE(f"PBX {pbx} is not connected", pbx=pbx)
    try:
        channels = await actions.core_show_channels(link)
    except AmiError as exc:
        raise pbx_failure(exc) from None
    caller = next(
        (f for f in channels if f.get("Uniqueid") == view.uniqueid and f.get("Channel")), None
    )
    if caller is None:
        return None
    linkedid = caller.get("Linkedid", "")
    # The phone's own channel: named after the interface, in the same call.
    agent = next(
        (
            f["Channel"]
            for f in channels
            if f.get("Channel", "").startswith(f"{interface}-") and f.get("Linkedid") == linkedid
        ),
        "",
    )
    return ConnectedCall(
        pbx,
        view.uniqueid,
        view.queue,
        caller["Channel"],
        linkedid,
        view.caller_num,
        interface,
        agent,
        view.answered_at,
        view.caller_name,
    )


async def call_at_phone(
    calls: AgentCalls,
    live: LiveReader,
    links: LinkDirectory,
    phone: tuple[str, str] | None,
    who: str,
    *,
    needs_agent_channel: bool = False,
) -> ConnectedCall:
    """The connected call at the phone a person is signed in at (``phone``: (PBX, interface)),
    or ``NOT_ON_A_CALL``; ``needs_agent_channel``: a call whose agent channel is not known
    counts as none (transfers act on that channel)."""
    if phone is None:
        raise NOT_ON_A_CALL(f"{who} is not signed in at a phone")
    pbx, interface = phone
    call = await connected_call(calls, live, links, pbx, interface)
    if call is None or (needs_agent_channel and not call.agent_channel):
        raise NOT_ON_A_CALL(f"{interface} has no connected call", pbx=pbx, interface=interface)
    return call
