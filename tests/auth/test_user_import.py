"""`callcenter user import`: a team's accounts from one CSV file, all or nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import users
from callcenter.auth.passwords import verify_password
from callcenter.auth.user_import import parse_user_rows
from callcenter.auth.users import NewUser

GOOD = "walnut-cobalt-ferry"
TEAM = (
    "username,password,role,name,interfaces,language\n"
    f"zhang,{GOOD},agent,张三,PJSIP/1001;PJSIP/1002,zh\n"
    f"li,{GOOD} ,team_leader,李四,,en\n"
    "\n"
    f"wang,{GOOD},,,,\n"
)


def test_rows_become_users_with_defaults_and_the_password_as_typed() -> None:
    found, problems = parse_user_rows("\ufeff" + TEAM)
    assert problems == []
    assert [(u.username, u.role, u.display_name, u.interfaces, u.language) for u in found] == [
        ("zhang", "agent", "张三", ("PJSIP/1001", "PJSIP/1002"), "zh"),
        ("li", "team_leader", "李四", (), "en"),
        ("wang", "agent", "", (), "zh"),
    ]
    assert found[1].password == GOOD + " "  # a password keeps its spaces
    assert GOOD not in repr(found[0])


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_returned() -> None:
    text = (
        "password,username,role,interfaces\n"
        f"{GOOD},zhang,agent,PJSIP/1001\n"
        f"{GOOD},bad name,agent,\n"
        "short,li,agent,\n"
        f"{GOOD},wang,boss,\n"
        f"{GOOD},zhao,agent,1001\n"
        f"{GOOD},zhang,agent,\n"
        f"{GOOD},qian,agent,,extra\n"
    )
    found, problems = parse_user_rows(text)
    assert found == []
    assert problems[0] == "line 3: bad name: a username is 1-64 letters, digits, '.', '_' or '-'"
    assert problems[1].startswith("line 4: li: password refused: it has 5 characters")
    assert problems[2].startswith("line 5: wang: role must be one of")
    assert problems[3].startswith("line 6: zhao: '1001' is not a queue-member interface")
    assert problems[4] == "line 7: zhang is also on line 2"
    assert problems[5] == "line 8: more fields than the header names"
    assert len(problems) == 6
    assert all("short" not in p for p in problems)  # a refused password is never echoed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ("username,role\nzhang,agent\n", "line 1: the header needs username, password"),
        ("username,password,team\nzhang,x,a\n", "unknown: team"),
        ("username,password,password\n", "each once"),
        ("username,password\n\n", "no users in the file"),
    ],
)
def test_a_file_that_is_not_a_user_list_is_refused(text: str, problem: str) -> None:
    found, problems = parse_user_rows(text)
    assert found == [] and len(problems) == 1 and problem in problems[0]


async def test_users_are_created_in_one_go_or_not_at_all(engine: AsyncEngine) -> None:
    await users.add_user(engine, "li", GOOD, role="agent", display_name="已有")
    team, problems = parse_user_rows(TEAM)
    assert problems == []
    with pytest.raises(users.UserError, match="exist already: li"):
        await users.add_users(engine, team)
    assert [u.username for u, _ in await users.list_users(engine)] == ["li"]

    created, existing = await users.add_users(engine, team, skip_existing=True)
    assert [u.username for u in created] == ["zhang", "wang"] and existing == ["li"]
    listed = {u.username: u for u, _ in await users.list_users(engine)}
    assert listed["li"].display_name == "已有"  # left as it was
    assert listed["zhang"].interfaces == ("PJSIP/1001", "PJSIP/1002")
    assert listed["wang"].display_name == "wang"
    login = await users.find_login(engine, "zhang")
    assert login is not None and verify_password(login[1], GOOD)


async def test_a_bad_field_given_directly_creates_nobody(engine: AsyncEngine) -> None:
    bad = NewUser("zhao", GOOD, "agent", "", ("1001",), "zh")
    good = NewUser("qian", GOOD, "agent", "", (), "zh")
    with pytest.raises(users.UserError, match="interface"):
        await users.add_users(engine, [good, bad])
    assert await users.list_users(engine) == []


def _cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "callcenter.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "c.db"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "user", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_the_command_imports_from_standard_input_or_a_file(tmp_path: Path) -> None:
    refused = _cli(tmp_path, "import", "-", stdin=TEAM + "zhao,short,agent,,,\n")
    assert refused.returncode == 1
    assert "error: line 6: zhao: password refused" in refused.stderr
    assert "1 problem(s) found; nothing imported" in refused.stderr
    assert "zhang" not in _cli(tmp_path, "list").stdout

    done = _cli(tmp_path, "import", "-", stdin=TEAM)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "user zhang (agent) created",
        "user li (team_leader) created",
        "user wang (agent) created",
    ]
    assert GOOD not in done.stdout + done.stderr

    more = tmp_path / "more.csv"
    more.write_text("\ufeffusername,password\nzhang," + GOOD + "\nzhao," + GOOD + "\n")
    again = _cli(tmp_path, "import", str(more))
    assert again.returncode == 1 and "exist already: zhang" in again.stderr
    skipped = _cli(tmp_path, "import", str(more), "--skip-existing")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.splitlines() == [
        "user zhao (agent) created",
        "user zhang exists already: left as it is",
    ]
    listed = _cli(tmp_path, "list").stdout
    assert [line.split("\t")[0] for line in listed.splitlines()] == ["li", "wang", "zhang", "zhao"]
