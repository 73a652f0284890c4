"""Screening through a real `callcenter serve` (no PBX): the blocked-numbers API with its
refusals and audit rows, the screening log, the ``screen`` FastAGI route of two replicas
sharing one database, and the abusive-caller button of an agent with no call."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures_pg import free_port
from tests.ivr.agi_client import call_route
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user

SCREENING = '[screening]\nwithheld = "message"\nrefresh_seconds = 0.5\n'


class Replica:
    def __init__(self, workdir: Path, database_url: str | None = None) -> None:
        self.agi_port = free_port()
        self.process = ServiceProcess(
            workdir,
            database_url=database_url,
            pbx=[],
            log_level="INFO",
            fastagi_port=self.agi_port,
            extra_toml=SCREENING,
        )

    def screen(self, number: str, presentation: str = "") -> str:
        call = asyncio.run(
            call_route(self.agi_port, "screen", ["", number, presentation, "1800.1"])
        )
        return call.variables["SCREEN_RESULT"]


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    replica = Replica(tmp_path_factory.mktemp("screening-api"))
    config = replica.process.config
    add_user(config, "boss", "supervisor")
    add_user(config, "li", "agent", "PJSIP/1003")
    add_user(config, "auditor", "audit_admin")
    replica.process.start()
    try:
        yield replica
    finally:
        replica.process.stop()


def login(replica: Replica, username: str) -> Browser:
    return Browser(replica.process.base_url).login(username)


def audit_of(auditor: Browser, action: str) -> list[dict[str, object]]:
    status, page = auditor.call("GET", f"/api/audit?action={action}")
    assert status == 200, page
    return list(page["entries"])


def test_staff_keep_the_blocked_list_and_every_change_is_audited(replica: Replica) -> None:
    boss, li, auditor = login(replica, "boss"), login(replica, "li"), login(replica, "auditor")
    anonymous = Browser(replica.process.base_url)
    path = "/api/screening/blocked"
    assert anonymous.call("GET", path)[0] == 401
    for who in (li, auditor):
        assert who.call("GET", path)[0] == 403
        status, body = who.call("POST", path, {"number": "13800138000"})
        assert (status, body["error"]) == (403, "forbidden"), body

    # Refusals: not a number at all, no possible number, a duplicate in another spelling.
    status, body = boss.call("POST", path, {"number": "call me"})
    assert (status, body["error"]) == (400, "invalid-body"), body
    status, body = boss.call("POST", path, {"number": "12"})
    assert (status, body["error"], body["field"]) == (400, "bad-number", "number"), body
    status, body = boss.call("POST", path, {"number": "13800138000", "colour": "red"})
    assert (status, body["error"]) == (400, "invalid-body"), body
    status, added = boss.call("POST", path, {"number": "138 0013 8000", "reason": "threats"})
    assert status == 201, added
    assert (added["number"], added["reason"], added["added_by"]) == (
        "+8613800138000",
        "threats",
        "boss",
    )
    status, body = boss.call("POST", path, {"number": "+86 13800138000"})
    assert (status, body["error"], body["id"]) == (409, "already-blocked", added["id"]), body

    status, listed = boss.call("GET", path)
    assert status == 200
    assert [n["number"] for n in listed["numbers"]] == ["+8613800138000"]

    assert li.call("DELETE", f"{path}/{added['id']}")[0] == 403
    status, body = boss.call("DELETE", f"{path}/999999")
    assert (status, body["error"]) == (404, "no-such-blocked-number"), body
    status, body = boss.call("DELETE", f"{path}/nine")
    assert (status, body["error"]) == (400, "invalid-path"), body
    status, body = boss.call("DELETE", f"{path}/{added['id']}")
    assert (status, body) == (200, {"deleted": True, "id": added["id"], "number": added["number"]})
    assert boss.call("DELETE", f"{path}/{added['id']}")[0] == 404

    (blocked,) = audit_of(auditor, "screening.block")
    assert (blocked["user"], blocked["target"], blocked["ok"]) == ("boss", "+8613800138000", True)
    (unblocked,) = audit_of(auditor, "screening.unblock")
    assert (unblocked["user"], unblocked["target"]) == ("boss", "+8613800138000")


def test_the_screening_log_shows_who_was_turned_away(replica: Replica) -> None:
    boss, li, auditor = login(replica, "boss"), login(replica, "li"), login(replica, "auditor")
    status, added = boss.call("POST", "/api/screening/blocked", {"number": "13800138009"})
    assert status == 201, added
    assert replica.screen("013800138009") == "blocked"
    assert replica.screen("", "prohib") == "withheld-message"
    assert replica.screen("13900000009") == "ok"

    def kinds(query: str = "") -> list[str]:
        status, body = auditor.call("GET", "/api/screening/events" + query)
        assert status == 200, body
        return [e["kind"] for e in body["events"]]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and kinds() != ["withheld-message", "blocked"]:
        time.sleep(0.1)
    assert kinds() == ["withheld-message", "blocked"]  # newest first
    status, body = boss.call("GET", "/api/screening/events?kind=blocked")
    assert status == 200
    (event,) = body["events"]
    assert (event["pbx"], event["number"], event["linkedid"]) == (
        "unknown",
        "+8613800138009",
        "1800.1",
    )
    assert kinds("?kind=abusive,withheld-message") == ["withheld-message"]
    later = urllib.parse.quote("2999-01-01T00:00:00+00:00")
    assert kinds(f"?since={later}") == []

    assert li.call("GET", "/api/screening/events")[0] == 403
    status, body = auditor.call("GET", "/api/screening/events?kind=bogus")
    assert (status, body["error"]) == (400, "invalid-query"), body
    status, body = auditor.call("GET", "/api/screening/events?since=yesterday")
    assert (status, body["error"]) == (400, "invalid-query"), body
    status, body = auditor.call("GET", "/api/screening/events?since=2026-12-01T00:00:00")
    assert (status, body["error"]) == (400, "invalid-query"), body  # no zone: refused


def test_another_replica_follows_the_list(replica: Replica, tmp_path: Path) -> None:
    boss = login(replica, "boss")
    database = replica.process.workdir / "callcenter.db"
    other = Replica(tmp_path, database_url=f"sqlite+aiosqlite:///{database}")
    other.process.start()
    try:
        assert other.screen("13800138077") == "ok"
        status, added = boss.call("POST", "/api/screening/blocked", {"number": "13800138077"})
        assert status == 201, added
        assert replica.screen("13800138077") == "blocked"  # at once where it was added

        def answer_there(expected: str) -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and other.screen("13800138077") != expected:
                time.sleep(0.2)
            assert other.screen("13800138077") == expected

        answer_there("blocked")  # after the other replica's refresh
        assert boss.call("DELETE", f"/api/screening/blocked/{added['id']}")[0] == 200
        answer_there("ok")
    finally:
        other.process.stop()


def test_the_abusive_caller_button_needs_a_connected_call(replica: Replica) -> None:
    li, auditor = login(replica, "li"), login(replica, "auditor")
    path = "/api/agent/abusive-caller"
    status, body = li.call("POST", path, {"note": "shouting"})
    assert (status, body["error"]) == (409, "not-on-a-call"), body
    status, body = li.call("POST", path, raw=b"")  # the note is optional, and so is the body
    assert (status, body["error"]) == (409, "not-on-a-call"), body
    status, body = li.call("POST", path, {"note": 5})
    assert (status, body["error"]) == (400, "invalid-body"), body
    status, body = li.call("POST", path, raw=b"{")
    assert (status, body["error"]) == (400, "bad-json"), body
    assert auditor.call("POST", path, {})[0] == 403
    assert audit_of(auditor, "screening.abusive") == []
