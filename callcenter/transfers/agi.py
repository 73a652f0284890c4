"""The transfers room's FastAGI routes (dialplan/transfer.conf):

    transfer-target    PBX, number      -> CC_XFER_KIND, CC_XFER_DEST, CC_XFER_RING,
                                           CC_XFER_WAIT, CC_XFER_PRIO
    transfer-answered  PBX, number      (on the target's channel, once it answered)
    transfer-result    PBX, number, DIALSTATUS

``number`` is the seven digits after the 9 of the transfer's extension. A number the service
does not know answers an empty CC_XFER_KIND: the dialplan then puts the caller back into the
queue they came from (CC_XFER_BACK) instead of dropping them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from callcenter.ivr.agi import AgiChannel, AgiRequest, Handler
from callcenter.ivr.decisions import safe_value
from callcenter.transfers.desk import TransferDesk

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[0-9]{7}")
_PRIORITY = re.compile(r"\(([0-9]{1,4})\)")


class TransferRoutes:
    def __init__(self, desk: TransferDesk, pbx_names: Sequence[str]) -> None:
        self.desk = desk
        self.pbx_names = tuple(pbx_names)

    def handlers(self) -> dict[str, Handler]:
        return {
            "transfer-target": self.target,
            "transfer-answered": self.answered,
            "transfer-result": self.result,
        }

    def _pbx(self, request: AgiRequest) -> str:
        given = safe_value(request.arg(0), 32)
        if given:
            return given
        return self.pbx_names[0] if len(self.pbx_names) == 1 else "unknown"

    def _number(self, request: AgiRequest) -> str | None:
        number = request.arg(1)
        if not _NUMBER.fullmatch(number):
            log.warning("transfer route %s: not a transfer number: %r", request.route, number[:20])
            return None
        return number

    async def target(self, request: AgiRequest, channel: AgiChannel) -> None:
        number = self._number(request)
        if number is None:
            await channel.set_variable("CC_XFER_KIND", "")
            return
        # The caller's priority now (the IVR's VIP priority), kept into the target queue.
        reply = await channel.command("GET VARIABLE QUEUE_PRIO")
        found = _PRIORITY.search(reply.text) if reply.code == 200 and reply.result == 1 else None
        priority = found.group(1) if found else ""
        answer = await self.desk.target_of(self._pbx(request), number, priority)
        await channel.set_variables(answer)

    async def answered(self, request: AgiRequest, channel: AgiChannel) -> None:
        number = self._number(request)
        if number is not None:
            await self.desk.answered(
                self._pbx(request), number, safe_value(request.get("agi_channel"), 120)
            )

    async def result(self, request: AgiRequest, channel: AgiChannel) -> None:
        number = self._number(request)
        if number is not None:
            await self.desk.dial_ended(self._pbx(request), number, safe_value(request.arg(2), 32))
