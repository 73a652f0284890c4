"""The shared page assets room: the JS module every page loads (``$``, API calls, the live
socket with back-off, i18n), under ``/static/common``, and the vendored libraries (Chart.js
for the reports) under ``/static/vendor`` (``static/vendor/README.md``: versions, licences)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from callcenter.component import Room
from callcenter.web import http
from callcenter.web.http import PUBLIC, Route

COMMON_DIR = Path(__file__).resolve().parent / "static" / "common"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"


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
            ),
            http.static(
                "/static/vendor",
                VENDOR_DIR,
                access=PUBLIC,
                summary="Vendored front-end libraries (Chart.js), served with the pages",
            ),
        ]
