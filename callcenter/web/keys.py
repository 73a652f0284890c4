"""Typed keys for what the aiohttp application shares with its handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.service import Service

SERVICE: web.AppKey[Service] = web.AppKey("service")
