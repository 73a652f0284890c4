"""Login, sessions, roles and the customer API against a real `callcenter serve`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.service_proc import ServiceProcess


def add_user(service: ServiceProcess, username: str, password: str, *args: str) -> None:
    service.add_user(username, password, *args)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("auth-api"), pbx=[])
    add_user(process, "zhang", "walnut-cobalt-ferry", "--name", "张三", "--interface", "PJSIP/1001")
    add_user(process, "boss", "violet-anchor-bakery", "--role", "supervisor")
    add_user(process, "gone", "amber-falcon-quarry")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def client(service: ServiceProcess) -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: the jar keeps cookies of an IP address such as 127.0.0.1.
    # Origin: our own page's (other sites' state-changing requests are refused).
    async with aiohttp.ClientSession(
        service.base_url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": service.base_url},
    ) as session:
        yield session


async def login(client: aiohttp.ClientSession, username: str, password: str) -> int:
    async with client.post(
        "/api/login", json={"username": username, "password": password}
    ) as response:
        return response.status


async def test_login_sets_an_httponly_cookie_and_me_answers(
    client: aiohttp.ClientSession,
) -> None:
    async with client.get("/api/me") as response:
        assert response.status == 401
        assert (await response.json())["error"] == "not-logged-in"
    async with client.post(
        "/api/login", json={"username": "zhang", "password": "walnut-cobalt-ferry"}
    ) as response:
        assert response.status == 200
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert (await response.json())["user"]["display_name"] == "张三"
    async with client.get("/api/me") as response:
        body = await response.json()
        assert response.status == 200 and body["user"]["interfaces"] == ["PJSIP/1001"]
    async with client.post("/api/logout") as response:
        assert response.status == 200
    async with client.get("/api/me") as response:
        assert response.status == 401


async def test_a_stolen_cookie_is_useless_after_logout(service: ServiceProcess) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        service.base_url, cookie_jar=jar, headers={"Origin": service.base_url}
    ) as first:
        assert await login(first, "zhang", "walnut-cobalt-ferry") == 200
        token = next(c.value for c in first.cookie_jar if c.key == "cc_session")
        async with first.post("/api/logout") as response:
            assert response.status == 200
    async with (
        aiohttp.ClientSession(service.base_url, cookies={"cc_session": token}) as thief,
        thief.get("/api/me") as response,
    ):
        assert response.status == 401


async def test_wrong_password_then_rate_limit(client: aiohttp.ClientSession) -> None:
    async with client.post("/api/login", json={"username": "boss", "password": "nope"}) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "bad-credentials"
    for _ in range(4):
        assert await login(client, "boss", "nope") == 401
    async with client.post(
        "/api/login", json={"username": "boss", "password": "violet-anchor-bakery"}
    ) as response:
        # Even the right password waits once the limit is reached.
        assert response.status == 429
        assert int(response.headers["Retry-After"]) > 0
        assert (await response.json())["error"] == "too-many-attempts"
    assert await login(client, "zhang", "walnut-cobalt-ferry") == 200  # another username is fine


async def test_bad_bodies_get_clear_400s(client: aiohttp.ClientSession) -> None:
    json_type = {"Content-Type": "application/json"}
    async with client.post("/api/login", data=b"{nope", headers=json_type) as response:
        assert response.status == 400 and (await response.json())["error"] == "bad-json"
    async with client.post("/api/login", json={"username": "x"}) as response:
        body = await response.json()
        assert response.status == 400 and body["error"] == "invalid-body"
        assert "password" in body["message"]


def disable_user(service: ServiceProcess, username: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "user",
            "disable",
            username,
            "--config",
            str(service.config),
        ],
        capture_output=True,
        text=True,
        cwd=service.workdir,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


async def test_disabled_user_cannot_log_in(
    service: ServiceProcess, client: aiohttp.ClientSession
) -> None:
    disable_user(service, "gone")
    assert await login(client, "gone", "amber-falcon-quarry") == 401


async def test_customers_need_a_login_and_validate(client: aiohttp.ClientSession) -> None:
    async with client.post("/api/customers", json={"name": "李四"}) as response:
        assert response.status == 401
    assert await login(client, "zhang", "walnut-cobalt-ferry") == 200
    body = {"name": "李四", "phones": ["138 0013 8000"], "account_number": "A-1001"}
    async with client.post("/api/customers", json=body) as response:
        assert response.status == 201
        created = await response.json()
    assert created["phones"] == ["+8613800138000"]
    async with client.get("/api/customers", params={"phone": "13800138000"}) as response:
        assert [c["id"] for c in (await response.json())["customers"]] == [created["id"]]
    async with client.get("/api/customers", params={"account": "A-1001"}) as response:
        assert [c["name"] for c in (await response.json())["customers"]] == ["李四"]
    async with client.put(
        f"/api/customers/{created['id']}", json={**body, "vip_level": 5}
    ) as response:  # an agent: VIP level and tags are staff's to set
        assert response.status == 403 and (await response.json())["error"] == "may-not-classify"
    async with client.put(
        f"/api/customers/{created['id']}", json={**body, "notes": "prefers mornings"}
    ) as response:
        assert response.status == 200 and (await response.json())["notes"] == "prefers mornings"
    async with client.get(f"/api/customers/{created['id']}") as response:
        assert (await response.json())["vip_level"] == 0
    async with client.post("/api/customers", json={**body, "phones": []}) as response:
        assert response.status == 409 and (await response.json())["error"] == "duplicate-account"
    async with client.post("/api/customers", json={"name": "x", "phones": ["12"]}) as response:
        error = await response.json()
        assert response.status == 400 and error["error"] == "bad-phone-number"
        assert error["field"] == "phones.0"
    async with client.post("/api/customers", json={"name": "", "vip_level": 99}) as response:
        assert response.status == 400 and (await response.json())["error"] == "invalid-body"
    async with client.put("/api/customers/999999", json=body) as response:
        assert response.status == 404
    async with client.get("/api/customers") as response:
        assert response.status == 400


async def test_agent_socket_and_pause_need_a_session(client: aiohttp.ClientSession) -> None:
    async with client.get("/ws/agent") as response:
        assert response.status == 401
    async with client.post("/api/agent/not-ready", json={"code": "break"}) as response:
        assert response.status == 401
    assert await login(client, "boss", "violet-anchor-bakery") in (200, 429)


async def test_the_console_page_is_served(client: aiohttp.ClientSession) -> None:
    async with client.get("/agent") as response:
        text = await response.text()
        assert response.status == 200 and "/agent/static/agent.js" in text
    async with client.get("/agent/static/agent.js") as response:
        assert response.status == 200
