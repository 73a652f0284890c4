"""``callcenter demo``: the rig's Asterisk, the service on SQLite and live SIPp traffic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.store import load_teams, save_team
from callcenter.auth.users import add_user, list_users, set_password
from callcenter.logs import configure_logging
from callcenter.rig import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME, AsteriskRig, ensure_rootfs
from callcenter.rig.sipp import FIRST_AGENT_EXT
from callcenter.rig.traffic import TrafficPlan, run_traffic
from callcenter.service import Service
from callcenter.settings import DatabaseSettings, HttpSettings, PbxSettings, Settings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head

log = logging.getLogger(__name__)

# The demo runs on 127.0.0.1 with its own throw-away database (var/demo.db). Its password is
# printed with the URLs and meets the password policy like any other (12+ characters, no
# username in it, not common).
DEMO_PASSWORD = "Lantern-Quay-Tea-4517"


def demo_settings(http_port: int, database: Path, queue_log: Path | None = None) -> Settings:
    return Settings(
        pbx=[
            PbxSettings(
                name="rig",
                host=AMI_HOST,
                port=AMI_PORT,
                username=AMI_USERNAME,
                secret=SecretStr(AMI_SECRET),
                queue_log=queue_log,
            )
        ],
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{database}")),
        http=HttpSettings(host="127.0.0.1", port=http_port),
    )


async def run_demo(agents: int, http_port: int, database: Path) -> None:
    rig = AsteriskRig()
    settings = demo_settings(http_port, database, rig.queue_log_path)
    configure_logging("INFO", settings.secrets())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    ensure_rootfs()
    await _demo_users(settings, agents)
    rig.start()
    service = Service(settings)
    traffic: asyncio.Task[object] | None = None
    try:
        await service.start()
        plan = TrafficPlan(agents=agents)
        traffic = asyncio.create_task(run_traffic(stop, plan, rig=rig))
        _print_urls(http_port, agents, settings.http.metrics_port)
        await stop.wait()
    finally:
        stop.set()
        if traffic is not None:
            with contextlib.suppress(Exception):
                await traffic
        await service.stop()
        rig.stop()
        rig.cleanup()


async def _demo_users(settings: Settings, agents: int) -> None:
    """A supervisor and one agent per SIPp phone, so the pages can be logged in to with the
    password printed (users kept in var/demo.db from an earlier run get it again)."""
    engine = create_engine(settings.database.url.get_secret_value())
    try:
        await upgrade_to_head(engine)
        existing = {user.username for user, _ in await list_users(engine)}
        wanted = [
            ("supervisor", "supervisor", "主管 Supervisor", ()),
            ("leader", "team_leader", "组长 Team leader", ()),
            ("admin", "admin", "管理员 Admin", ()),
        ] + [
            (f"agent{ext}", "agent", f"坐席 Agent {ext}", (f"PJSIP/{ext}",))
            for ext in range(FIRST_AGENT_EXT, FIRST_AGENT_EXT + agents)
        ]
        for username, role, name, interfaces in wanted:
            if username in existing:
                await set_password(engine, username, DEMO_PASSWORD)
            else:
                await add_user(
                    engine,
                    username,
                    DEMO_PASSWORD,
                    role=role,
                    display_name=name,
                    interfaces=interfaces,
                )
        await _demo_team(engine)
    finally:
        await engine.dispose()


async def _demo_team(engine: AsyncEngine) -> None:
    """One team serving the demo's queue, led by `leader`, with every demo agent in it."""
    if await load_teams(engine):
        return
    users = {user.username: user.id for user, _ in await list_users(engine)}
    async with AsyncSession(engine) as session, session.begin():
        await save_team(
            session,
            None,
            name="first-line",
            label_zh="一线",
            label_en="First line",
            queues=["support"],
            members=[uid for name, uid in users.items() if name.startswith("agent")],
            leaders=[users["leader"]],
            at=datetime.now(UTC),
        )


def _print_urls(port: int, agents: int, metrics_port: int = 9464) -> None:
    base = f"http://127.0.0.1:{port}"
    last = FIRST_AGENT_EXT + agents - 1
    print(
        "\ncallcenter demo is running: Asterisk 22 (rig), the service on SQLite, "
        f"{agents} SIPp agent phones and a caller every few seconds into queue 'support'.\n"
        f"  wallboard       {base}/wallboard   (supervisor / {DEMO_PASSWORD})\n"
        f"  admin           {base}/admin       (admin / {DEMO_PASSWORD})\n"
        f"  work items      {base}/work        (supervisor / {DEMO_PASSWORD})\n"
        f"  agent console   {base}/agent       (agent{FIRST_AGENT_EXT} … agent{last} / "
        f"{DEMO_PASSWORD})\n"
        f"  queues (live)   {base}/api/queues\n"
        f"  agents (live)   {base}/api/agents\n"
        f"  live feed (WS)  ws://127.0.0.1:{port}/ws/live\n"
        f"  API             {base}/api/docs\n"
        f"  health          {base}/healthz\n"
        f"  metrics         http://127.0.0.1:{metrics_port}/metrics\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
