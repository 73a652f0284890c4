"""The AMI ``Filter`` patterns that keep only the events the service uses.

Asterisk applies include filters (regular expressions) to each event's text before sending
it, so the stream shrinks at the source: on rig traffic a queue call makes ~72 events of
which these keep ~13. Answers to our own list actions (QueueStatus...) are not filtered.
"""

from __future__ import annotations

import re


def event_filters(ivr_variable_prefix: str) -> tuple[str, ...]:
    variables = f"(QUEUESTATUS|{re.escape(ivr_variable_prefix)})"
    return (
        "Event: Queue",  # QueueCallerJoin/Leave/Abandon, QueueMember*
        "Event: Agent",  # AgentCalled/Connect/Complete/RingNoAnswer/Dump
        # Asterisk matches the regex against the whole event text without REG_NEWLINE, so
        # "$" never matches at a line end; the CR after the name stops HangupRequest and
        # HangupHandlerPush/Pop (checked on Asterisk 22).
        "Event: Hangup[[:space:]]",
        # Sent before the hang-ups of a PBX shutdown: its callers did not abandon.
        "Event: SoftHangupRequest",
        # The callback dialler (callcenter/work/dialer.py) follows its Originates: the agent's
        # leg answered or not, and the customer's leg's DialStatus.
        "Event: OriginateResponse",
        "Event: DialEnd",
        "Event: FullyBooted",
        "Event: Shutdown",
        # Only the VarSets that tell a timeout from an abandon, and the IVR's data.
        f"Variable: _{{0,2}}{variables}",
    )
