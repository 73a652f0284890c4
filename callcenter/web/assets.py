"""The shared page assets room: the JS module both pages load (``$``, API calls, the live
socket with back-off, i18n), under ``/static/common``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from callcenter.component import Room
from callcenter.web import http
from callcenter.web.http import PUBLIC, Route

COMMON_DIR = Path(__file__).resolve().parent / "static" / "common"


class SharedAssetsRoom(Room):
    name: ClassVar[str] = "assets"

    def routes(self) -> Sequence[Route]:
        # Public: the login form itself runs on it.
        return [
            http.static(
                "/static/common",
                COMMON_DIR,
                access=PUBLIC,
                summary="JS shared by the agent console and the wallboard",
            )
        ]
