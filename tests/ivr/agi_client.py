"""A scripted Asterisk side of FastAGI for unit tests: sends the env, answers 200 to all."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

_SET = re.compile(r'SET VARIABLE (\S+) "(.*)"')


@dataclass
class AgiCall:
    commands: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    closed_by_server: bool = False


async def call_route(
    port: int,
    route: str,
    args: list[str],
    *,
    uniqueid: str = "1700.1",
    callerid: str = "13800990001",
    channel: str = "PJSIP/caller-00000001",
    timeout: float = 5.0,
) -> AgiCall:
    """Run one AGI request the way res_agi does and collect the commands it received."""
    env = {
        "agi_network": "yes",
        "agi_network_script": route,
        "agi_request": f"agi://x/{route}",
        "agi_channel": channel,
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "22.0.0",
        "agi_callerid": callerid,
        "agi_calleridname": "Test",
        "agi_context": "ivr-main",
        "agi_extension": "s",
        "agi_priority": "1",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "1",
    }
    env.update({f"agi_arg_{i + 1}": value for i, value in enumerate(args)})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    call = AgiCall()
    try:
        writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(timeout):
            while line := await reader.readline():
                text = line.decode().rstrip("\n")
                call.commands.append(text)
                if match := _SET.fullmatch(text):
                    call.variables[match.group(1)] = match.group(2)
                writer.write(b"200 result=1\n")
                await writer.drain()
        call.closed_by_server = True
    finally:
        writer.close()
    return call
