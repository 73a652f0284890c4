"""The voicemail room: messages callers leave through a queue's voicemail exit.

Needs: the Host, its settings (``[voicemail]``), each PBX's voicemail spool as the service sees
it (``[[pbx]] voicemail_spool``), the work-items room's ``WorkDesk`` and the audit log. Offers
its FastAGI route ``voicemail-left`` (served by the IVR room's server), the message's audio to
those who handle its work item, and each item's message to the item's detail
(``VoicemailOfItem``). Flows and what a PBX needs: docs/voicemail.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.audit.log import Audit
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.ivr.agi import Handler
from callcenter.settings import VoicemailSettings
from callcenter.tasks import every
from callcenter.voicemail.collect import Collector, audio_url
from callcenter.voicemail.ports import WorkDesk
from callcenter.voicemail.store import load_audio, of_item
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import needs, read_path, request_user
from callcenter.work.ports import ItemVoicemail

if TYPE_CHECKING:
    from callcenter.web.http import Route

log = logging.getLogger(__name__)

NO_SUCH_VOICEMAIL = Problem(404, "no-such-voicemail", "no voicemail of that id")
NOT_YOUR_VOICEMAIL = Problem(
    403, "not-your-voicemail", "only those who handle the voicemail's work item may hear it"
)


class MessagePath(BaseModel):
    id: Annotated[int, Field(ge=1, le=2**53)]


class VoicemailRoom(Room):
    name: ClassVar[str] = "voicemail"

    def __init__(
        self,
        host: Host,
        settings: VoicemailSettings,
        *,
        spools: Mapping[str, Path],
        work: WorkDesk,
        audit: Audit | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = host.engine
        self.settings = settings
        self.work = work
        self.audit = audit
        self.collector = Collector(
            host.engine,
            settings,
            spools,
            work,
            # A dialplan without IVR_PBX: the one PBX that has a spool, if only one has.
            pbx_names=list(spools),
            registry=host.registry,
            clock=clock,
        )
        self._spawn = host.spawner(self.name)
        # Each work item's detail shows its message.
        work.attach_voicemail(self)

    def routes(self) -> Sequence[Route]:
        return [
            http.get(
                "/api/voicemail/{id}/audio",
                self.audio,
                access=needs(P.WORK_OWN, P.WORK_SUPERVISE),
                tag="voicemail",
                summary="A voicemail's recording (WAV, 8 kHz mono), for those who handle its "
                "work item",
                path_params=MessagePath,
                kind="text",
                content_type="audio/wav",
                errors=(NO_SUCH_VOICEMAIL, NOT_YOUR_VOICEMAIL),
            ),
        ]

    def agi_routes(self) -> Mapping[str, Handler]:
        """``voicemail-left``, for the IVR room's FastAGI server."""
        return self.collector.handlers()

    async def start(self) -> None:
        if self.settings.sweep_seconds > 0 and self.collector.spools:
            self._spawn(self._sweeps(), "sweep")

    async def stop(self) -> None:
        await self.collector.drain()

    async def _sweeps(self) -> None:
        # Once at start (messages left while the service was down), then periodically.
        try:
            await self.collector.sweep()
        except Exception:
            log.exception("voicemail sweep failed")
        await every(self.settings.sweep_seconds, self.sweep, "voicemail sweep")

    async def sweep(self) -> None:
        await self.collector.sweep()

    # --- for the work-items room --------------------------------------------------------------

    async def voicemail_of_item(self, item_id: int) -> ItemVoicemail | None:
        found = await of_item(self.engine, item_id)
        if found is None:
            return None
        return ItemVoicemail(found.id, found.duration_seconds, audio_url(found.id))

    # --- HTTP ---------------------------------------------------------------------------------

    async def audio(self, request: web.Request) -> web.Response:
        message_id = read_path(request, MessagePath).id
        user = request_user(request)
        found = await load_audio(self.engine, message_id)
        # A message not filed yet (its item is being made) is not shown to anyone.
        if found is None or found[0].work_item_id is None:
            raise NO_SUCH_VOICEMAIL(f"there is no voicemail {message_id}", id=message_id)
        message, audio = found
        item_id = message.work_item_id
        assert item_id is not None
        allowed = await self.work.may_hear(user, item_id)
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                "voicemail.listen",
                f"voicemail:{message_id}",
                ok=allowed,
                parameters={"work_item": item_id},
            )
        if not allowed:
            raise NOT_YOUR_VOICEMAIL(
                f"voicemail {message_id} belongs to work item {item_id}, which you do not handle",
                id=message_id,
            )
        return web.Response(
            body=audio,
            content_type="audio/wav",
            headers={
                "Content-Disposition": f'inline; filename="voicemail-{message_id}.wav"',
                # A customer's voice: kept in no cache.
                "Cache-Control": "private, no-store",
            },
        )
