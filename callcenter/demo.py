"""``callcenter demo``: the rig's Asterisk, the service on SQLite and live SIPp traffic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from pydantic import SecretStr

from callcenter.logs import configure_logging
from callcenter.rig import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME, AsteriskRig, ensure_rootfs
from callcenter.rig.traffic import TrafficPlan, run_traffic
from callcenter.service import Service
from callcenter.settings import DatabaseSettings, HttpSettings, PbxSettings, Settings

log = logging.getLogger(__name__)


def demo_settings(http_port: int, database: Path) -> Settings:
    return Settings(
        pbx=[PbxSettings(name="rig", host=AMI_HOST, port=AMI_PORT, username=AMI_USERNAME,
                         secret=SecretStr(AMI_SECRET))],
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{database}")),
        http=HttpSettings(host="127.0.0.1", port=http_port),
    )


async def run_demo(agents: int, http_port: int, database: Path) -> None:
    settings = demo_settings(http_port, database)
    configure_logging("INFO", settings.secrets())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    ensure_rootfs()
    rig = AsteriskRig()
    rig.start()
    service = Service(settings)
    traffic: asyncio.Task[object] | None = None
    try:
        await service.start()
        plan = TrafficPlan(agents=agents)
        traffic = asyncio.create_task(run_traffic(stop, plan, rig=rig))
        _print_urls(http_port, agents)
        await stop.wait()
    finally:
        stop.set()
        if traffic is not None:
            with contextlib.suppress(Exception):
                await traffic
        await service.stop()
        rig.stop()
        rig.cleanup()


def _print_urls(port: int, agents: int) -> None:
    base = f"http://127.0.0.1:{port}"
    print(
        "\ncallcenter demo is running: Asterisk 22 (rig), the service on SQLite, "
        f"{agents} SIPp agent phones and a caller every few seconds into queue 'support'.\n"
        f"  queues (live)   {base}/api/queues\n"
        f"  agents (live)   {base}/api/agents\n"
        f"  live feed (WS)  ws://127.0.0.1:{port}/ws/live\n"
        f"  health          {base}/healthz\n"
        f"  metrics         {base}/metrics\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
