"""How a room plugs into the service: its routes, its share of live changes, its life cycle.

Each room (records, screen-pop, IVR, routing...) offers one ``Component``; the service's
composition root lists them. The defaults do nothing, so a room overrides only what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from callcenter.live import Change

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink


class Component:
    name = "component"

    def add_routes(self, app: web.Application) -> None:
        """Register HTTP/WebSocket routes (called once, before the server starts)."""

    def on_change(self, change: Change) -> None:
        """Receive each live-model change, on the event path: enqueue only, never block."""

    async def on_pbx_ready(self, link: AmiLink) -> None:
        """After a PBX (re)connected and the model was resynced (re-apply desired state...)."""

    async def start(self) -> None:
        """Called after migrations, before the AMI links connect."""

    async def stop(self) -> None:
        """Called after the AMI links stopped: flush what is pending."""
