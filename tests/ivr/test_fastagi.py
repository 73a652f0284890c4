"""The FastAGI server and routes over real sockets, with a real database (SQLite and PG)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.customers.models import CustomerRow
from callcenter.ivr.agi import AgiChannel, AgiRequest, FastAgiServer, route_of
from callcenter.ivr.decisions import CustomerFacts
from callcenter.ivr.directory import SqlCustomerDirectory, numbers_match
from callcenter.ivr.models import CallbackRequest, SurveyResult
from callcenter.ivr.routes import CallbackBooking, IvrRoutes
from callcenter.records.models import CallRecord
from callcenter.settings import IvrSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.ivr.agi_client import call_route

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing


class Directory:
    """Facts from a dict, optionally slow or broken (stands in for the customer table)."""

    def __init__(
        self, facts: dict[str, CustomerFacts], delay: float = 0.0, error: Exception | None = None
    ) -> None:
        self._facts = facts
        self.delay = delay
        self.error = error
        self.asked: list[tuple[str, str | None]] = []

    async def facts(self, caller_number: str, account: str | None) -> CustomerFacts | None:
        self.asked.append((caller_number, account))
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self._facts.get(account or "") or self._facts.get(caller_number)


async def _engine(tmp_path: Path, url: str | None = None) -> AsyncEngine:
    engine = create_engine(url or f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    await upgrade_to_head(engine)
    return engine


async def _serve(routes: IvrRoutes) -> FastAgiServer:
    server = FastAgiServer("127.0.0.1", 0, routes.handlers(), header_timeout=0.5)
    await server.start()
    return server


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(tmp_path)
    yield engine
    await engine.dispose()


def _settings(**overrides: object) -> IvrSettings:
    # These tests check what is stored; the 200 ms budget has its own test. A first write
    # on a busy 2-core machine can outlast it.
    values: dict[str, object] = {"hours": {"mon": ["09:00-18:00"]}, "route_timeout_ms": 3000}
    values.update(overrides)
    return IvrSettings.model_validate(values)


def test_route_is_the_script_path() -> None:
    assert route_of("lookup") == "lookup"
    assert route_of("/survey?x=1") == "survey"
    assert route_of("agi://127.0.0.1:4573/hours") == "hours"


async def test_lookup_answers_priority_language_and_pop_variables(
    sqlite_engine: AsyncEngine,
) -> None:
    vip = CustomerFacts(customer_id="42", vip_level=2, language="en", last_agent="PJSIP/1002")
    directory = Directory({"13800990001": vip})
    server = await _serve(IvrRoutes(_settings(), sqlite_engine, directory, ["rig"], lambda: NOW))
    try:
        call = await call_route(server.bound_port, "lookup", ["rig", "13800990001", "", ""])
        assert call.closed_by_server
        assert call.variables["IVR_LOOKUP"] == "known"
        assert call.variables["IVR_PRIORITY"] == "10"
        assert call.variables["IVR_LANG"] == "en"
        assert call.variables["CC_VIP"] == "2"
        assert call.variables["CC_STICKY_AGENT"] == "PJSIP/1002"
        # The caller's own language choice is never overwritten.
        chosen = await call_route(server.bound_port, "lookup", ["rig", "13800990001", "", "zh"])
        assert "IVR_LANG" not in chosen.variables and chosen.variables["IVR_PRIORITY"] == "10"
        unknown = await call_route(server.bound_port, "lookup", ["rig", "13900000000", "", ""])
        assert unknown.variables["IVR_LOOKUP"] == "unknown"
        assert unknown.variables["IVR_PRIORITY"] == "0"
    finally:
        await server.stop()


async def test_account_number_is_passed_to_the_directory(sqlite_engine: AsyncEngine) -> None:
    directory = Directory({"88001234": CustomerFacts(customer_id="9", vip_level=3)})
    server = await _serve(IvrRoutes(_settings(), sqlite_engine, directory, ["rig"], lambda: NOW))
    try:
        call = await call_route(server.bound_port, "lookup", ["rig", "1000", "88001234", "zh"])
        assert directory.asked == [("1000", "88001234")]
        assert call.variables["IVR_PRIORITY"] == "20" and call.variables["CC_CUSTOMER"] == "9"
    finally:
        await server.stop()


@pytest.mark.parametrize("broken", ["slow", "error"])
async def test_slow_or_broken_lookup_answers_the_default_within_the_budget(
    sqlite_engine: AsyncEngine, broken: str
) -> None:
    facts = {"13800990001": CustomerFacts(customer_id="1", vip_level=3)}
    directory = (
        Directory(facts, delay=5.0)
        if broken == "slow"
        else Directory(facts, error=ConnectionError("database down"))
    )
    server = await _serve(
        IvrRoutes(_settings(route_timeout_ms=200), sqlite_engine, directory, ["rig"], lambda: NOW)
    )
    try:
        started = time.monotonic()
        call = await call_route(server.bound_port, "lookup", ["rig", "13800990001", "", "en"])
        elapsed = time.monotonic() - started
        assert call.variables["IVR_LOOKUP"] == "default"
        assert call.variables["IVR_PRIORITY"] == "0"
        assert elapsed < 0.45, f"answered after {elapsed:.3f} s"
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (NOW, "open"),
        (datetime(2026, 11, 23, 11, 0, tzinfo=UTC), "closed"),  # Monday 19:00 Beijing
        (datetime(2026, 10, 1, 2, 0, tzinfo=UTC), "holiday"),
    ],
)
async def test_hours_come_from_the_configuration(
    sqlite_engine: AsyncEngine, clock: datetime, expected: str
) -> None:
    settings = _settings(
        hours={"mon": ["09:00-18:00"], "thu": ["09:00-18:00"]}, holidays=[date(2026, 10, 1)]
    )
    server = await _serve(IvrRoutes(settings, sqlite_engine, Directory({}), ["rig"], lambda: clock))
    try:
        call = await call_route(server.bound_port, "hours", ["rig"])
        assert call.variables == {"IVR_HOURS": expected}
    finally:
        await server.stop()


class Book:
    """The work room's CallbackBook stand-in: one ticket per caller channel, optionally slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.bookings: list[CallbackBooking] = []

    async def book_callback(self, booking: CallbackBooking) -> str:
        await asyncio.sleep(self.delay)
        self.bookings.append(booking)
        return "48271935"


async def test_callback_stores_the_request_once_and_books_an_item(
    database_url: str, tmp_path: Path
) -> None:
    engine = await _engine(tmp_path, database_url)
    book = Book()
    server = await _serve(
        IvrRoutes(
            _settings(callback_due_minutes=30),
            engine,
            Directory({}),
            ["rig"],
            lambda: NOW,
            callbacks=book,
        )
    )
    try:
        args = ["rig", "aftersales", "1700.0", "88001234", "en"]
        first = await call_route(server.bound_port, "callback", args, uniqueid="1700.5")
        again = await call_route(server.bound_port, "callback", args, uniqueid="1700.5")
        assert (
            first.variables
            == again.variables
            == {
                "IVR_CALLBACK": "ok",
                "IVR_TICKET": "48271935",
            }
        )
        async with AsyncSession(engine) as session:
            requests = (await session.execute(select(CallbackRequest))).scalars().all()
        assert len(requests) == 1
        request = requests[0]
        assert (
            request.pbx,
            request.uniqueid,
            request.queue,
            request.caller_number,
            request.account,
            request.language,
        ) == ("rig", "1700.5", "aftersales", "13800990001", "88001234", "en")
        # Booked twice with the same caller channel: the port answers the first item again.
        assert book.bookings[0] == book.bookings[1]
        booking = book.bookings[0]
        assert (booking.pbx, booking.uniqueid, booking.number, booking.queue) == (
            "rig",
            "1700.5",
            "13800990001",
            "aftersales",
        )
        assert (booking.account, booking.linkedid, booking.language) == ("88001234", "1700.0", "en")
        assert (booking.due_at - NOW).total_seconds() == 1800
        anonymous = await call_route(
            server.bound_port, "callback", args, callerid="unknown", uniqueid="1700.6"
        )
        assert anonymous.variables == {"IVR_CALLBACK": "failed"}
        assert len(book.bookings) == 2
    finally:
        await server.stop()
        await engine.dispose()


async def test_a_callback_not_booked_in_the_budget_or_with_nobody_to_dial_fails(
    sqlite_engine: AsyncEngine,
) -> None:
    slow = Book(delay=5.0)
    server = await _serve(
        IvrRoutes(
            _settings(route_timeout_ms=200),
            sqlite_engine,
            Directory({}),
            ["rig"],
            lambda: NOW,
            callbacks=slow,
        )
    )
    unwired = await _serve(
        IvrRoutes(_settings(), sqlite_engine, Directory({}), ["rig"], lambda: NOW)
    )
    try:
        args = ["rig", "support", "1700.0", "", "zh"]
        started = time.monotonic()
        call = await call_route(server.bound_port, "callback", args, uniqueid="1700.9")
        assert call.variables == {"IVR_CALLBACK": "failed"}  # the caller waits in the queue
        assert time.monotonic() - started < 0.45
        assert slow.bookings == []
        alone = await call_route(unwired.bound_port, "callback", args, uniqueid="1700.10")
        assert alone.variables == {"IVR_CALLBACK": "failed"}
    finally:
        await server.stop()
        await unwired.stop()


async def test_survey_stores_score_against_call_and_agent(
    database_url: str, tmp_path: Path
) -> None:
    engine = await _engine(tmp_path, database_url)
    server = await _serve(IvrRoutes(_settings(), engine, Directory({}), ["rig"], lambda: NOW))
    try:
        port = server.bound_port
        args = ["rig", "4", "PJSIP/1001", "Agent 1001", "support", "1700.0"]
        assert (await call_route(port, "survey", args, uniqueid="1700.7")).variables == {
            "IVR_SURVEY": "ok"
        }
        assert (await call_route(port, "survey", args, uniqueid="1700.7")).variables == {
            "IVR_SURVEY": "ok"
        }
        bad = ["rig", "9", "PJSIP/1001", "Agent 1001", "support", "1700.0"]
        assert (await call_route(port, "survey", bad, uniqueid="1700.8")).variables == {
            "IVR_SURVEY": "invalid"
        }
        async with AsyncSession(engine) as session:
            rows = (await session.execute(select(SurveyResult))).scalars().all()
        assert [
            (r.pbx, r.uniqueid, r.linkedid, r.queue, r.agent_interface, r.agent_name, r.score)
            for r in rows
        ] == [("rig", "1700.7", "1700.0", "support", "PJSIP/1001", "Agent 1001", 4)]
    finally:
        await server.stop()
        await engine.dispose()


async def test_sql_directory_finds_customer_by_number_or_account(
    database_url: str, tmp_path: Path
) -> None:
    engine = await _engine(tmp_path, database_url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            customer = CustomerRow(
                name="王芳",
                phones=["+8613800990001"],
                account_number="8800",
                vip_level=2,
                language="en",
                tags=[],
                notes="",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(customer)
            await session.flush()
            session.add(
                CallRecord(
                    pbx="rig",
                    uniqueid="1.1",
                    queue="support",
                    caller_number="13800990001",
                    joined_at=datetime.now(UTC),
                    outcome="answered",
                    agents_rung=["PJSIP/1002"],
                    ring_no_answer_count=0,
                    answered_by="PJSIP/1002",
                    ivr_data={},
                    customer_id=customer.id,
                )
            )
        directory = SqlCustomerDirectory(engine)
        by_number = await directory.facts("13800990001", None)
        assert by_number is not None and by_number.vip_level == 2
        assert by_number.language == "en" and by_number.last_agent == "PJSIP/1002"
        by_account = await directory.facts("999", "8800")
        assert by_account is not None and by_account.customer_id == by_number.customer_id
        assert await directory.facts("13900000000", None) is None
    finally:
        await engine.dispose()


def test_numbers_match_national_and_e164() -> None:
    assert numbers_match("+8613800990001", "13800990001")
    assert numbers_match("013800990001", "+86 138-0099-0001")
    assert not numbers_match("+8613800990001", "0001")
    assert not numbers_match("1001", "21001")


async def _echo_route(request: AgiRequest, channel: AgiChannel) -> None:
    await channel.set_variable("ARGS", "|".join(request.args))


async def test_a_peer_closing_mid_header_does_not_freeze_the_loop() -> None:
    server = FastAgiServer("127.0.0.1", 0, {"echo": _echo_route}, header_timeout=0.5)
    await server.start()
    try:
        # Closed mid-header, silent, oversize: each is dropped on its own...
        _, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        writer.write(b"agi_network: yes\nagi_network_scr")
        await writer.drain()
        writer.close()
        _, silent = await asyncio.open_connection("127.0.0.1", server.bound_port)
        reader, huge = await asyncio.open_connection("127.0.0.1", server.bound_port)
        huge.write(b"".join(b"agi_x%d: %s\n" % (i, b"y" * 200) for i in range(200)))
        await huge.drain()
        async with asyncio.timeout(2):
            assert await reader.read() == b""  # the server hung up on the oversize request
        # ...while the loop keeps ticking and a proper request is served at once.
        ticks = 0
        started = time.monotonic()
        while time.monotonic() - started < 0.2:
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks >= 10
        call = await call_route(server.bound_port, "echo", ["a", "b c"])
        assert call.variables == {"ARGS": "a|b c"}
        silent.close()
        huge.close()
    finally:
        await server.stop()


async def test_unknown_route_and_failing_route_close_cleanly() -> None:
    async def boom(request: AgiRequest, channel: AgiChannel) -> None:
        raise RuntimeError("bug in a route")

    server = FastAgiServer("127.0.0.1", 0, {"boom": boom})
    await server.start()
    try:
        unknown = await call_route(server.bound_port, "nosuch", [])
        assert unknown.closed_by_server and unknown.commands[0].startswith("VERBOSE")
        failed = await call_route(server.bound_port, "boom", [])
        assert failed.closed_by_server and failed.commands == []
    finally:
        await server.stop()


async def test_indexed_directory_uses_the_screenpop_index(tmp_path: Path) -> None:
    from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
    from callcenter.ivr.directory import IndexedCustomerDirectory

    engine = await _engine(tmp_path)
    try:
        async with AsyncSession(engine) as session, session.begin():
            session.add(
                CustomerRow(
                    name="韩梅梅",
                    phones=["+8613800990002"],
                    account_number="7700",
                    vip_level=3,
                    language="zh",
                    tags=[],
                    notes="",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        index = ScreenPopDirectory(engine, "CN", 5)
        await index.load()
        directory = IndexedCustomerDirectory(index)
        by_number = await directory.facts("13800990002", None)
        assert by_number is not None and by_number.vip_level == 3
        by_account = await directory.facts("1000", "7700")
        assert by_account is not None and by_account.customer_id == by_number.customer_id
        assert await directory.facts("13900000001", None) is None
    finally:
        await engine.dispose()
