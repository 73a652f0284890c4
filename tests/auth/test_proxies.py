"""Behind a reverse proxy the login limit counts the client's address, never a forged one."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import aiohttp
import pytest

from callcenter.auth.clients import client_address
from tests.auth.test_api import add_user
from tests.service_proc import ServiceProcess

PROXIES = [ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")]


def test_a_direct_client_cannot_choose_its_address() -> None:
    assert client_address("198.51.100.7", ["1.2.3.4"], PROXIES) == "198.51.100.7"
    assert client_address("198.51.100.7", [], []) == "198.51.100.7"


def test_behind_proxies_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    assert client_address("127.0.0.1", ["203.0.113.5"], PROXIES) == "203.0.113.5"
    # The client wrote "1.2.3.4" itself; the proxies appended what they saw.
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.5, 10.1.2.3"], PROXIES) == "203.0.113.5"
    assert client_address("127.0.0.1", ["1.2.3.4", "203.0.113.5"], PROXIES) == "203.0.113.5"
    assert client_address("127.0.0.1", ["10.0.0.9"], PROXIES) == "10.0.0.9"
    assert client_address("127.0.0.1", [], PROXIES) == "127.0.0.1"
    assert client_address("::1", ["203.0.113.5"], [ip_network("::1/128")]) == "203.0.113.5"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    # The tests talk from 127.0.0.1: to the service they are the reverse proxy.
    process = ServiceProcess(
        tmp_path_factory.mktemp("auth-proxy"),
        pbx=[],
        extra_toml='[auth]\ntrusted_proxies = ["127.0.0.1"]\n',
    )
    add_user(process, "boss", "violet-anchor-bakery", "--role", "supervisor")
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def login_from(service: ServiceProcess, forwarded_for: str, password: str) -> int:
    async with (
        aiohttp.ClientSession(service.base_url, headers={"Origin": service.base_url}) as session,
        session.post(
            "/api/login",
            json={"username": "boss", "password": password},
            headers={"X-Forwarded-For": forwarded_for},
        ) as response,
    ):
        return response.status


async def test_a_locked_out_address_does_not_lock_out_the_user_elsewhere(
    proxied: ServiceProcess,
) -> None:
    for _ in range(5):
        assert await login_from(proxied, "203.0.113.5", "wrong") == 401
    assert await login_from(proxied, "203.0.113.5", "violet-anchor-bakery") == 429
    # Same proxy, another client: the real user still gets in.
    assert await login_from(proxied, "203.0.113.6", "violet-anchor-bakery") == 200
    assert "failed login for 'boss' from 203.0.113.5" in proxied.log_text()
