"""The FastAGI route ``screen``: is this caller put through, turned away or sent aside?

Dialplan (``dialplan/screening.conf``, Gosub ``callcenter-screen``)::

    AGI(${IVR_AGI}/screen,${IVR_PBX},${CALLERID(num)},${CALLERID(pres)},${CHANNEL(linkedid)})

Answers ``SCREEN_RESULT`` = ``ok`` | ``blocked`` | ``withheld-message`` | ``withheld-queue``
and ``SCREEN_QUEUE`` (the withheld callers' queue, with ``withheld-queue``; else empty). The
answer comes from memory (the blocked list, the settings): no database on the caller's path,
well within the IVR's budget. Each answer other than ``ok`` is logged and recorded as a
``ScreeningEvent`` by the recorder, after the caller has their answer.

Called without arguments (a PBX's own dialplan), the number and the presentation are read
from the AGI environment (``agi_callerid``, ``agi_callingpres``).
"""

from __future__ import annotations

import logging
from collections.abc import Container, Sequence

from callcenter.clock import Clock, utc_now
from callcenter.ivr.agi import AgiChannel, AgiRequest
from callcenter.ivr.decisions import safe_value
from callcenter.logs import mask_number
from callcenter.screening.recorder import EventRecorder
from callcenter.screening.rules import Decision, Result, decide
from callcenter.screening.store import Event
from callcenter.settings import ScreeningSettings

log = logging.getLogger(__name__)

# agi_callingpres: bits 5-6 of the presentation code, 0x20 = presentation prohibited.
_PRESENTATION_MASK = 0x60
_PROHIBITED = 0x20
_DETAILS = {
    Result.BLOCKED: "blocked number: told and let go",
    Result.WITHHELD_MESSAGE: "withheld number: told and let go",
    Result.WITHHELD_QUEUE: "withheld number: sent to queue {queue}",
}


def presentation_of(request: AgiRequest) -> str:
    """``${CALLERID(pres)}`` as given, else the environment's numeric ``agi_callingpres``."""
    if len(request.args) >= 3:
        return request.arg(2)
    code = request.get("agi_callingpres")
    if code.isascii() and code.isdigit() and int(code) & _PRESENTATION_MASK == _PROHIBITED:
        return "prohib"
    return ""


class ScreenRoute:
    def __init__(
        self,
        settings: ScreeningSettings,
        blocked: Container[str],
        recorder: EventRecorder,
        *,
        region: str,
        pbx_names: Sequence[str],
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._blocked = blocked
        self._recorder = recorder
        self._region = region
        self._pbx_names = tuple(pbx_names)
        self._clock = clock

    def _pbx(self, request: AgiRequest) -> str:
        given = safe_value(request.arg(0), 32)
        if given:
            return given
        return self._pbx_names[0] if len(self._pbx_names) == 1 else "unknown"

    def decide(self, number: str, presentation: str) -> Decision:
        settings = self._settings
        return decide(
            number,
            presentation,
            self._blocked,
            region=self._region,
            withheld=settings.withheld,
            withheld_queue=settings.withheld_queue,
        )

    async def screen(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = self._pbx(request)
        # The number as the dialplan gave it: empty is a withheld caller, not "unknown".
        raw = request.arg(1) if request.args else request.get("agi_callerid")
        number = raw.strip()[:80]
        presentation = presentation_of(request)[:40]
        decision = self.decide(number, presentation)
        await channel.set_variables(decision.variables())
        if decision.result is Result.OK:
            return
        shown = decision.key or safe_value(number, 40)
        linkedid = safe_value(request.arg(3, request.get("agi_uniqueid")), 64)
        log.info(
            "screening pbx=%s number=%s pres=%s: %s%s",
            pbx,
            mask_number(shown) or "(none)",
            safe_value(presentation, 40) or "-",
            decision.result.value,
            f" queue={decision.queue}" if decision.queue else "",
        )
        self._recorder.submit(
            Event(
                at=self._clock(),
                pbx=pbx,
                kind=decision.result.value,
                number=shown or None,
                linkedid=linkedid or None,
                interface=None,
                username=None,
                detail=_DETAILS[decision.result].format(queue=decision.queue),
            )
        )
