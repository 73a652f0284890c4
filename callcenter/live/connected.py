"""Which caller each agent's phone is talking to now, from the live model's changes.

The abusive-caller button (screening) and the transfers room act on the *caller's* and the
*agent's* channels: the live model's open calls (``CallView``) name the answering phone but
not the channels, which ``CallRinging`` and
``CallConnected`` carry. Fed on the event path (dictionary updates only); a call answered
before this process started is not here: ``callcenter.ami.calls`` asks the PBX for it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from callcenter.live import CallConnected, CallEnded, CallRinging, Change

# Ringing calls remembered (a call that rang and was never answered nor ended here is
# forgotten oldest first).
RINGING_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class ConnectedCall:
    pbx: str
    uniqueid: str
    queue: str
    # The caller's channel (what is redirected) and the call's linkedid.
    channel: str
    linkedid: str
    caller_num: str
    agent_interface: str
    # The agent's channel in the bridge (what BlindTransfer and Atxfer act on); "" when not
    # known (a call answered before this process started, found through the PBX).
    agent_channel: str = ""
    answered_at: datetime | None = None
    caller_name: str = ""


class AgentCalls:
    def __init__(self) -> None:
        # (pbx, caller uniqueid) -> (caller channel, linkedid)
        self._ringing: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        # (pbx, agent interface) -> the call it answered
        self._connected: dict[tuple[str, str], ConnectedCall] = {}
        # (pbx, caller uniqueid) -> set when that call ends
        self._ends: dict[tuple[str, str], asyncio.Event] = {}

    def on_change(self, change: Change) -> None:
        if isinstance(change, CallRinging):
            key = (change.pbx, change.uniqueid)
            self._ringing[key] = (change.channel, change.linkedid)
            self._ringing.move_to_end(key)
            while len(self._ringing) > RINGING_LIMIT:
                self._ringing.popitem(last=False)
        elif isinstance(change, CallConnected):
            channel, linkedid = self._ringing.pop((change.pbx, change.uniqueid), ("", ""))
            if channel:
                self._connected[(change.pbx, change.agent_interface)] = ConnectedCall(
                    change.pbx,
                    change.uniqueid,
                    change.queue,
                    channel,
                    linkedid,
                    change.caller_num,
                    change.agent_interface,
                    change.agent_channel,
                    change.at,
                    change.caller_name,
                )
        elif isinstance(change, CallEnded):
            record = change.record
            self._ringing.pop((record.pbx, record.uniqueid), None)
            if record.answered_by:
                call = self._connected.get((record.pbx, record.answered_by))
                if call is not None and call.uniqueid == record.uniqueid:
                    del self._connected[(record.pbx, record.answered_by)]
            ended = self._ends.pop((record.pbx, record.uniqueid), None)
            if ended is not None:
                ended.set()

    def connected(self, pbx: str, interface: str) -> ConnectedCall | None:
        return self._connected.get((pbx, interface))

    def watch_end(self, pbx: str, uniqueid: str) -> asyncio.Event:
        """An event set when the live model ends this call (watch before acting on it, so
        the end cannot be missed); ``unwatch`` it afterwards."""
        return self._ends.setdefault((pbx, uniqueid), asyncio.Event())

    def unwatch(self, pbx: str, uniqueid: str, event: asyncio.Event) -> None:
        if self._ends.get((pbx, uniqueid)) is event:
            del self._ends[(pbx, uniqueid)]
