"""Item 4: bad FastAGI input is a logged refusal, never an unhandled exception.

A CR in a route name once escaped the server as "Unhandled exception in client_connected_cb".
Now the request is refused: one warning line (the value repr'd, no traceback), a VERBOSE
answer, and the server hangs up cleanly. A bug in a route is still logged once with its type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from callcenter.ivr import agi
from callcenter.ivr.agi import AgiChannel, AgiRequest, FastAgiServer, Handler
from tests.ivr.agi_client import call_route


async def _echo(request: AgiRequest, channel: AgiChannel) -> None:
    await channel.set_variable("ARGS", "|".join(request.args))


async def _crlf_value(request: AgiRequest, channel: AgiChannel) -> None:
    await channel.set_variable("IVR_NAME", "Wang\r\nEXEC Dial PJSIP/premium")


async def _bug(request: AgiRequest, channel: AgiChannel) -> None:
    raise RuntimeError("bug in a route")


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    routes: dict[str, Handler] = {"echo": _echo, "crlf": _crlf_value, "bug": _bug}
    fastagi = FastAgiServer("127.0.0.1", 0, routes, header_timeout=0.5)
    await fastagi.start()
    yield fastagi
    await fastagi.stop()


def _problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_cr_in_the_route_name_is_a_logged_refusal(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        call = await call_route(server.bound_port, "look\rup", [])
        await asyncio.sleep(0.05)  # an escaped exception would be logged by asyncio now
    assert call.closed_by_server
    assert len(call.commands) == 1 and call.commands[0].startswith("VERBOSE")
    assert "refused" in call.commands[0] and "\r" not in call.commands[0]
    [record] = _problems(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "'look\\rup'" in record.getMessage() and "\r" not in record.getMessage()


async def test_a_value_that_would_split_a_command_is_refused(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        call = await call_route(server.bound_port, "crlf", [])
        await asyncio.sleep(0.05)
    assert call.closed_by_server
    # The SET VARIABLE was never written; the answer does not echo the caller's data.
    assert [c.split(" ", 1)[0] for c in call.commands] == ["VERBOSE"]
    assert "premium" not in call.commands[0]
    [record] = _problems(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "IVR_NAME" in record.getMessage() and "\n" not in record.getMessage()


async def test_a_non_ascii_digit_argument_is_not_a_crash(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        env = "agi_network_script: echo\nagi_arg_1: a\nagi_arg_\u00b2: b\n\n"
        writer.write(env.encode())
        await writer.drain()
        async with asyncio.timeout(2):
            line = await reader.readline()
            writer.write(b"200 result=1\n")
            await writer.drain()
            assert await reader.read() == b""
        writer.close()
    assert line == b'SET VARIABLE ARGS "a"\n'
    assert _problems(caplog) == []


async def test_a_bug_in_a_route_is_logged_once_with_its_type(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        call = await call_route(server.bound_port, "bug", [])
        await asyncio.sleep(0.05)
    assert call.closed_by_server
    [record] = _problems(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


async def test_an_unexpected_error_outside_the_route_is_logged_once(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(route: str) -> str | None:
        raise KeyError(route)

    monkeypatch.setattr(agi, "route_problem", broken)
    with caplog.at_level(logging.WARNING):
        call = await call_route(server.bound_port, "echo", [])
        await asyncio.sleep(0.05)
    assert call.closed_by_server
    [record] = _problems(caplog)
    assert "KeyError" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError
