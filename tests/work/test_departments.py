"""Other departments: an item goes out by e-mail and webhook with a reply link, and the
department's reply through the link lands on the item's timeline.

Real parts: a real SMTP server (aiosmtpd, with STARTTLS on a certificate made for the test
and LOGIN required), a real aiohttp webhook receiver, the real work-items room and HTTP
stack on SQLite and PostgreSQL (migrated to head). Only the agents room is a small stand-in
(who exists, the teams, what their consoles are told), and who is logged in is read from a
test header. The room's clock is moved by hand.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from playwright.async_api import async_playwright, expect
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import Scope, Team, scope_of
from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import Role, User
from callcenter.ivr.decisions import Schedule
from callcenter.settings import Department, SmtpSettings, WorkSettings
from callcenter.web.app import create_app
from callcenter.web.assets import SharedAssetsRoom
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.departments import Departments, ReplyLimiter, mask_phone
from callcenter.work.models import DepartmentRequestRow, WorkItemRow
from callcenter.work.ports import ReadyAgent
from callcenter.work.room import WorkRoom
from tests.fixtures_pg import free_port
from tests.rooms import make_host

ORIGIN = "http://console.test"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PUBLIC_URL = "https://cc.example.test"
SMTP_USER = "callcenter"
SMTP_PASSWORD = "Relay-Pass-Word-9"
PHONE = "+8613800001234"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/work/reply/([A-Za-z0-9_-]{43})")
ALWAYS_OPEN = BusinessCalendar(
    Schedule.from_config(
        "Asia/Shanghai",
        {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        [],
    )
)

# username: (id, display name, role)
PEOPLE: dict[str, tuple[int, str, Role]] = {
    "boss": (1, "Boss", "supervisor"),
    "lin": (2, "Lin (front lead)", "team_leader"),
    "wang": (3, "Wang Fang", "agent"),
    "li": (4, "Li Na", "agent"),
}
USERS = {name: User(uid, name, display, role) for name, (uid, display, role) in PEOPLE.items()}
FRONT = Team(
    id=1,
    name="front",
    label_zh="一线",
    label_en="Front line",
    queues=frozenset({"support"}),
    members=frozenset({3, 4}),
    leaders=frozenset({2}),
)


class Staff:
    """The agents room as the work room sees it: users, one team, the consoles."""

    def __init__(self) -> None:
        self.told: list[tuple[int, dict[str, Any]]] = []

    def scope_of(self, user: User) -> Scope:
        return scope_of(user, [FRONT], {})

    def teams(self) -> Sequence[Team]:
        return (FRONT,)

    def active_user(self, user_id: int) -> User | None:
        return next((u for u in USERS.values() if u.id == user_id), None)

    def active_users(self) -> Sequence[User]:
        return list(USERS.values())

    def ready_agents(self) -> Sequence[ReadyAgent]:
        return ()

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, dict(message)))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# --- the SMTP relay ------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    to: list[str]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())


@dataclass
class Inbox:
    """The relay's handler: keeps what it accepted, refuses refuse@... recipients."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refuse@"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        # What the authenticator answered for a good login (the username).
        login = session.auth_data if session.authenticated else None
        self.mails.append(
            Mail(
                sender=str(envelope.mail_from),
                to=list(envelope.rcpt_tos),
                raw=envelope.content,
                tls=session.ssl is not None,
                login=login.decode() if isinstance(login, bytes) else None,
            )
        )
        return "250 Message accepted for delivery"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@dataclass
class Relay:
    port: int
    inbox: Inbox
    client_tls: ssl.SSLContext


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the relay's STARTTLS)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl command is needed to make the test relay's certificate")
    folder = tmp_path_factory.mktemp("relay-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def relay(certificate: tuple[Path, Path]) -> Iterator[Relay]:
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield Relay(port, inbox, ssl.create_default_context(cafile=str(cert)))
    finally:
        controller.stop()


# --- the webhook receiver --------------------------------------------------------------------


@dataclass
class Hooks:
    port: int
    received: list[dict[str, Any]]
    headers: list[dict[str, str]]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    received: list[dict[str, Any]] = []
    headers: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        headers.append(dict(request.headers))
        return web.json_response({"ok": True})

    async def fail(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"error": "down for maintenance"}, status=503)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/fail", fail)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Hooks(port, received, headers)
    finally:
        await runner.cleanup()


# --- the room and its clients ------------------------------------------------------------------


class Floor:
    client: TestClient[web.Request, Any]

    def __init__(self, engine: AsyncEngine, relay: Relay, hooks: Hooks) -> None:
        self.engine = engine
        self.clock = Clock()
        self.staff = Staff()
        self.settings = WorkSettings(
            departments=(
                Department(
                    code="logistics",
                    label_zh="物流部",
                    label_en="Logistics",
                    email="logistics@example.test",
                    webhook=hooks.url("/hook"),
                ),
                Department(
                    code="technical",
                    label_zh="技术部",
                    label_en="Technical",
                    email="tech@example.test",
                ),
                Department(
                    code="broken",
                    label_zh="坏部门",
                    label_en="Broken",
                    email="refuse@example.test",
                    webhook=hooks.url("/fail"),
                ),
                Department(code="slow", label_zh="慢", label_en="Slow", webhook=hooks.url("/slow")),
            ),
            smtp=SmtpSettings(
                host="127.0.0.1",
                port=relay.port,
                sender="callcenter@example.test",
                starttls=True,
                username=SMTP_USER,
                password=SecretStr(SMTP_PASSWORD),
            ),
            public_url=PUBLIC_URL + "/",
            reply_days=7,
        )
        self.room = WorkRoom(
            make_host(engine),
            self.settings,
            ALWAYS_OPEN,
            self.staff,
            audit=AuditLog(engine),
            clock=self.clock,
        )
        self.departments: Departments = self.room.departments.departments
        # The relay's certificate is the test's own.
        self.departments.mailer.tls = relay.client_tls
        self.departments.webhook.timeout = 0.5

    def app(self) -> web.Application:
        async def who(request: web.Request) -> User | None:
            return USERS.get(request.headers.get("X-Test-User", ""))

        # The shared page assets: the reply page's script imports /static/common/common.js.
        return create_app([self.room, SharedAssetsRoom()], who, public_origins=[ORIGIN])

    async def call(
        self, who: str | None, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Origin": ORIGIN}
        if who is not None:
            headers["X-Test-User"] = who
        async with self.client.request(method, path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def create(self, who: str = "wang", **fields: Any) -> dict[str, Any]:
        body = {
            "kind": "complaint",
            "title": "Parcel lost",
            "category": "delivery",
            "phone": PHONE,
            "note": "Customer says the parcel never came",
            **fields,
        }
        status, item = await self.call(who, "POST", "/api/work/items", body)
        assert status == 201, item
        return dict(item)

    async def item(self, item_id: int, who: str = "boss") -> dict[str, Any]:
        status, item = await self.call(who, "GET", f"/api/work/items/{item_id}")
        assert status == 200, item
        return dict(item)

    async def send(
        self, item_id: int, department: str, message: str, who: str = "wang"
    ) -> tuple[int, Any]:
        return await self.call(
            who,
            "POST",
            f"/api/work/items/{item_id}/department",
            {"department": department, "message": message},
        )

    async def requests(self) -> list[DepartmentRequestRow]:
        async with AsyncSession(self.engine) as session:
            rows = await session.scalars(
                select(DepartmentRequestRow).order_by(DepartmentRequestRow.id)
            )
            return list(rows)

    async def audit(self, action: str) -> list[AuditEntry]:
        async with AsyncSession(self.engine) as session:
            rows = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
            return list(rows)


@pytest.fixture
async def floor(engine: AsyncEngine, relay: Relay, hooks: Hooks) -> AsyncIterator[Floor]:
    floor = Floor(engine, relay, hooks)
    async with TestClient(TestServer(floor.app())) as client:
        floor.client = client
        yield floor


def token_of(url: str) -> str:
    found = LINK.fullmatch(url)
    assert found is not None, url
    return found.group(1)


def kinds(item: Mapping[str, Any]) -> list[str]:
    return [entry["kind"] for entry in item["timeline"]]


# --- the tests -------------------------------------------------------------------------------


async def test_an_item_goes_out_and_the_reply_through_its_link_comes_back(
    floor: Floor, relay: Relay, hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    item = await floor.create()
    status, _ = await floor.call(
        "wang", "POST", f"/api/work/items/{item['id']}/notes", {"text": "Courier says delivered"}
    )
    assert status == 200
    assert item["due_at"] is not None

    status, answer = await floor.send(item["id"], "logistics", "Where is parcel SF123?")
    assert status == 201, answer
    request = answer["request"]
    assert request["delivered"] is True and request["error"] is None
    assert request["channel"] == "email+webhook"
    assert {d["channel"]: d["delivered"] for d in request["deliveries"]} == {
        "email": True,
        "webhook": True,
    }
    token = token_of(request["reply_url"])
    # Waiting on the department: the deadline clock stopped.
    sent = answer["item"]
    assert sent["status"] == "waiting-department"
    assert sent["due_at"] is None and sent["waiting"] is True
    [department_event] = [e for e in sent["timeline"] if e["kind"] == "department"]
    assert department_event["text"] == "Where is parcel SF123?"
    assert department_event["data"]["delivered"] is True
    assert department_event["data"]["department"] == "logistics"

    # The e-mail: through STARTTLS, logged in, with the item, the masked number, the notes
    # and the link.
    assert len(relay.inbox.mails) == 1
    mail = relay.inbox.mails[0]
    assert mail.tls and mail.login == SMTP_USER
    assert mail.to == ["logistics@example.test"]
    assert mail.sender == "callcenter@example.test"
    assert item["ticket"] in str(mail.message["Subject"])
    text = mail.text
    assert LINK.search(text) is not None and token_of(LINK.search(text).group(0)) == token  # type: ignore[union-attr]
    assert "**********1234" in text and PHONE not in text
    assert "Where is parcel SF123?" in text
    assert "Customer says the parcel never came" in text and "Courier says delivered" in text
    assert "Parcel lost" in text and "物流配送 / Delivery" in text

    # The webhook: the same, as JSON.
    assert len(hooks.received) == 1
    hook = hooks.received[0]
    assert hook["reply_url"] == request["reply_url"]
    assert hook["department"] == "logistics" and hook["message"] == "Where is parcel SF123?"
    assert hook["item"]["ticket"] == item["ticket"]
    assert hook["item"]["phone"] == "**********1234"
    assert hook["item"]["due_at"] is not None
    assert [n["text"] for n in hook["notes"]] == [
        "Customer says the parcel never came",
        "Courier says delivered",
    ]
    assert hooks.headers[0]["Content-Type"].startswith("application/json")

    # Stored: the token's hash only.
    [row] = await floor.requests()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(vars(row))
    assert row.delivered and row.error is None and row.answered_at is None
    assert row.expires_at == floor.clock() + timedelta(days=7)

    # The department opens the link: no login.
    async with floor.client.get(f"/work/reply/{token}") as page:
        assert page.status == 200
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.headers["Cache-Control"] == "no-store"
        html = await page.text()
    assert "/work-reply/static/reply.js" in html
    for asset in ("reply.js", "reply.css"):
        async with floor.client.get(f"/work-reply/static/{asset}") as found:
            assert found.status == 200, asset
    status, view = await floor.call(None, "GET", f"/api/work/reply/{token}")
    assert status == 200, view
    assert view["item"]["ticket"] == item["ticket"]
    assert view["item"]["phone"] == "**********1234"
    assert view["message"] == "Where is parcel SF123?"
    assert view["department"] == {
        "code": "logistics",
        "label_zh": "物流部",
        "label_en": "Logistics",
    }
    assert "customer_name" not in view["item"] and "owner_id" not in view["item"]

    # ... and answers.
    floor.clock.advance(minutes=30)
    status, view = await floor.call(
        None, "POST", f"/api/work/reply/{token}", {"name": "Zhang Wei", "text": "Found it."}
    )
    assert status == 201, view
    assert view["answered_at"] is not None
    after = await floor.item(item["id"])
    assert after["status"] == "in-progress"
    assert after["due_at"] is not None  # the clock runs again
    reply = [e for e in after["timeline"] if e["kind"] == "reply"]
    assert len(reply) == 1
    assert reply[0]["actor"] == "Zhang Wei (物流部 / Logistics)"
    assert reply[0]["actor_id"] is None
    assert reply[0]["text"] == "Found it."
    assert reply[0]["data"]["department"] == "logistics"
    assert kinds(after)[-2:] == ["reply", "status"]
    # The owner's console is told.
    told = [m for uid, m in floor.staff.told if uid == USERS["wang"].id and m["event"] == "reply"]
    assert len(told) == 1
    assert told[0]["type"] == "work_item" and told[0]["item"]["id"] == item["id"]
    [row] = await floor.requests()
    assert row.answered_at == floor.clock()

    # A department may answer twice: the link serves until it expires.
    floor.clock.advance(minutes=5)
    status, view = await floor.call(
        None, "POST", f"/api/work/reply/{token}", {"name": "Zhang Wei", "text": "And fixed."}
    )
    assert status == 201, view
    again = await floor.item(item["id"])
    assert [e["text"] for e in again["timeline"] if e["kind"] == "reply"] == [
        "Found it.",
        "And fixed.",
    ]
    assert again["status"] == "in-progress"
    [row] = await floor.requests()
    assert row.answered_at == floor.clock() - timedelta(minutes=5)  # the first answer's time
    assert [n["text"] for n in view["notes"]][-2:] == ["Found it.", "And fixed."]

    # Audited: the send by its user, the replies by the department.
    [sent_entry] = await floor.audit("work.department")
    assert sent_entry.username == "wang" and sent_entry.ok
    assert sent_entry.target == f"work-item:{item['ticket']}"
    replies = await floor.audit("work.reply")
    assert [e.username for e in replies] == ["logistics: Zhang Wei"] * 2

    # The token (the department's only credential) and the relay's password: in no log line
    # of the service.
    for record in caplog.records:
        if record.name.startswith("callcenter"):
            line = record.getMessage()
            assert token not in line and SMTP_PASSWORD not in line, line


async def test_unknown_and_expired_links_are_refused_and_change_nothing(floor: Floor) -> None:
    item = await floor.create()
    status, answer = await floor.send(item["id"], "technical", "Why does the app crash?")
    assert status == 201 and answer["request"]["delivered"], answer
    token = token_of(answer["request"]["reply_url"])
    before = await floor.item(item["id"])

    for unknown in ("A" * 43, "not-a-token", token[:-1] + ("A" if token[-1] != "A" else "B")):
        for method, body in (("GET", None), ("POST", {"name": "X", "text": "hello"})):
            status, problem = await floor.call(None, method, f"/api/work/reply/{unknown}", body)
            assert (status, problem["error"]) == (404, "no-such-reply-link"), (unknown, problem)

    # A bad body through a good link: 400, nothing stored.
    status, problem = await floor.call(
        None, "POST", f"/api/work/reply/{token}", {"name": "X", "text": ""}
    )
    assert status == 400, problem
    status, problem = await floor.call(
        None, "POST", f"/api/work/reply/{token}", {"name": "X", "text": "a", "admin": True}
    )
    assert status == 400, problem

    # Still good a moment before it expires; gone at the expiry.
    floor.clock.advance(days=7, seconds=-1)
    status, _ = await floor.call(None, "GET", f"/api/work/reply/{token}")
    assert status == 200
    floor.clock.advance(seconds=1)
    for method, body in (("GET", None), ("POST", {"name": "Late", "text": "too late"})):
        status, problem = await floor.call(None, method, f"/api/work/reply/{token}", body)
        assert (status, problem["error"]) == (410, "reply-link-expired"), problem
    after = await floor.item(item["id"])
    assert after["timeline"] == before["timeline"]
    assert after["status"] == "waiting-department" and after["version"] == before["version"]
    [row] = await floor.requests()
    assert row.answered_at is None
    assert await floor.audit("work.reply") == []


async def test_a_failed_delivery_is_told_and_loses_nothing(floor: Floor, hooks: Hooks) -> None:
    item = await floor.create()
    status, answer = await floor.send(item["id"], "broken", "Please check")
    assert status == 201, answer
    request = answer["request"]
    assert request["delivered"] is False
    errors = {d["channel"]: d["error"] for d in request["deliveries"]}
    assert errors["email"] == "the relay refused the recipient"
    assert errors["webhook"] == "the webhook answered HTTP 503"
    assert request["error"] == (
        "email: the relay refused the recipient; webhook: the webhook answered HTTP 503"
    )
    # The item keeps its status and its running deadline; the failure is on its timeline.
    sent = answer["item"]
    assert sent["status"] == item["status"] and sent["due_at"] == item["due_at"]
    [event] = [e for e in sent["timeline"] if e["kind"] == "department"]
    assert event["data"]["delivered"] is False and "HTTP 503" in event["data"]["error"]
    [row] = await floor.requests()
    assert row.delivered is False and row.error == request["error"]
    [entry] = await floor.audit("work.department")
    assert entry.ok is False and "HTTP 503" in entry.message

    # A webhook that does not answer in time; then the SMTP relay gone (a mail-only one).
    status, answer = await floor.send(item["id"], "slow", "Anyone?")
    assert status == 201 and answer["request"]["delivered"] is False
    assert answer["request"]["error"] == "webhook: the webhook did not answer within 0.5 s"
    floor.departments.mailer.settings = floor.settings.smtp.model_copy(update={"port": free_port()})
    status, answer = await floor.send(item["id"], "technical", "Anyone at all?")
    assert status == 201 and answer["request"]["delivered"] is False
    assert answer["request"]["error"].startswith("email: ConnectionRefusedError")
    assert answer["item"]["status"] == "open"

    # The link of a failed delivery still works (the agent may pass it on by hand).
    token = token_of(answer["request"]["reply_url"])
    status, view = await floor.call(
        None, "POST", f"/api/work/reply/{token}", {"name": "Chen", "text": "Got it by phone"}
    )
    assert status == 201, view
    after = await floor.item(item["id"])
    assert after["status"] == "open"  # it never waited: no move back
    assert [e["kind"] for e in after["timeline"]].count("department") == 3


async def test_who_may_send_and_where(floor: Floor) -> None:
    item = await floor.create()
    # A colleague who is not the owner and supervises nobody.
    status, problem = await floor.send(item["id"], "logistics", "Hi", who="li")
    assert (status, problem["error"]) == (403, "not-your-item")
    status, problem = await floor.send(item["id"], "finance", "Hi")
    assert (status, problem["error"]) == (404, "no-such-department")
    status, problem = await floor.send(999_999, "logistics", "Hi")
    assert (status, problem["error"]) == (404, "no-such-item")
    status, problem = await floor.send(item["id"], "logistics", "")
    assert status == 400
    status, problem = await floor.call(
        None, "POST", f"/api/work/items/{item['id']}/department", {"department": "x"}
    )
    assert status == 401
    assert await floor.requests() == []
    # The team's leader and a supervisor may.
    for who in ("lin", "boss"):
        status, answer = await floor.send(item["id"], "technical", f"from {who}", who=who)
        assert status == 201 and answer["request"]["delivered"], answer
    assert len(await floor.requests()) == 2


async def test_replies_are_limited_per_link(floor: Floor) -> None:
    floor.departments.limiter = ReplyLimiter(limit=3, window=3600)
    item = await floor.create()
    status, answer = await floor.send(item["id"], "technical", "Check please")
    assert status == 201
    token = token_of(answer["request"]["reply_url"])
    path = f"/api/work/reply/{token}"
    for n in range(3):
        status, _ = await floor.call(None, "POST", path, {"name": "Tech", "text": f"answer {n}"})
        assert status == 201
    status, problem = await floor.call(None, "POST", path, {"name": "Tech", "text": "one more"})
    assert (status, problem["error"]) == (429, "too-many-replies")
    async with floor.client.post(
        path,
        data=b'{"name": "Tech", "text": "' + b"x" * 40_000 + b'"}',
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
    after = await floor.item(item["id"])
    assert [e["text"] for e in after["timeline"] if e["kind"] == "reply"] == [
        "answer 0",
        "answer 1",
        "answer 2",
    ]


async def test_a_pool_item_tells_its_team_leaders(floor: Floor) -> None:
    item = await floor.create(who="boss", team_id=FRONT.id)
    assert item["owner_id"] is None
    status, answer = await floor.send(item["id"], "technical", "Check", who="boss")
    assert status == 201, answer
    token = token_of(answer["request"]["reply_url"])
    status, _ = await floor.call(
        None, "POST", f"/api/work/reply/{token}", {"name": "Tech", "text": "done"}
    )
    assert status == 201
    told = [uid for uid, m in floor.staff.told if m.get("event") == "reply"]
    assert told == [USERS["lin"].id]
    async with AsyncSession(floor.engine) as session:
        row = await session.get(WorkItemRow, item["id"])
        assert row is not None and row.status == "in-progress"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_reply_page_in_chromium(floor: Floor) -> None:
    item = await floor.create()
    status, answer = await floor.send(item["id"], "technical", "Why does the app crash?")
    assert status == 201, answer
    url = str(floor.client.make_url(f"/work/reply/{token_of(answer['request']['reply_url'])}"))
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("requestfailed", lambda request: problems.append(request.url))
            await page.goto(url)
            await expect(page.locator("#ticket")).to_have_text(item["ticket"])
            await expect(page.locator("#title")).to_have_text("Parcel lost")
            await expect(page.locator("#phone")).to_have_text("**********1234")
            await expect(page.locator("#message")).to_have_text("Why does the app crash?")
            await expect(page.locator("#department")).to_have_text("技术部")
            await expect(page.locator("#status")).to_have_text("等待其他部门")
            await expect(page.locator("#notes li")).to_have_count(2)
            await page.click("#lang")
            await expect(page.locator("#department")).to_have_text("Technical")
            await expect(page.locator("#status")).to_have_text("Waiting on a department")
            await page.fill("#name", "Zhou (app team)")
            await page.fill("#text", "Fixed in 2.1.\nPlease ask the customer to update.")
            await page.click("#send")
            await expect(page.locator("#result")).to_contain_text("Sent, thank you")
            await expect(page.locator("#notes li")).to_have_count(3)
            await expect(page.locator("#notes li").last).to_contain_text("Fixed in 2.1.")
            await expect(page.locator("#status")).to_have_text("In progress")
            await expect(page.locator("#text")).to_have_value("")
            # A link that is not one of ours (the language chosen is kept).
            await page.goto(url[:-43] + "A" * 43)
            await expect(page.locator("#state")).to_have_text("This reply link is not valid.")
            await expect(page.locator("#item-view")).to_be_hidden()
        finally:
            await browser.close()
    assert problems == []
    after = await floor.item(item["id"])
    [reply] = [e for e in after["timeline"] if e["kind"] == "reply"]
    assert reply["actor"] == "Zhou (app team) (技术部 / Technical)"
    assert reply["text"] == "Fixed in 2.1.\nPlease ask the customer to update."
    assert after["status"] == "in-progress"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613800001234", "**********1234"),
        ("2001", "**01"),
        ("12345", "*2345"),
        ("", None),
        (None, None),
    ],
)
def test_the_customers_number_is_masked_but_for_the_last_four(
    phone: str | None, masked: str | None
) -> None:
    assert mask_phone(phone) == masked
