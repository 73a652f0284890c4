"""The password policy: 12+ characters, not the username nor containing it, not a common
password nor easy to guess; applied by `callcenter user add` and `user set-password`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    WeakPassword,
    check_password,
    hash_password,
    password_problem,
    verify_password,
)
from callcenter.demo import DEMO_PASSWORD
from callcenter.rig.sipp import FIRST_AGENT_EXT

GOOD = "walnut-cobalt-ferry"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaa", "fewer than 12"),
        ("password", "fewer than 12"),
        ("secret-pass", "fewer than 12"),
        ("demo-password", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("password1234", "too easy to guess"),
        ("123456789012", "too easy to guess"),
        ("qwertyuiopasdfgh", "too easy to guess"),
        ("abcdefghijklmn", "too easy to guess"),
        ("P@ssw0rd1234!", "too easy to guess"),
        ("Callcenter-2025!", "too easy to guess"),
    ],
)
def test_the_issue_s_and_other_weak_passwords_are_refused(password: str, reason: str) -> None:
    problem = password_problem(password, "admin")
    assert problem is not None and reason in problem
    with pytest.raises(WeakPassword, match="password refused") as refused:
        hash_password(password)
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in str(refused.value)


@pytest.mark.parametrize("password", ["zhang-Kettle-93x", "ZHANGkettleharbour-93", "zhang"])
def test_the_username_may_not_be_in_the_password(password: str) -> None:
    problem = password_problem(password, "Zhang")
    assert problem is not None
    if len(password) >= MIN_PASSWORD_LENGTH:
        assert "contains the username 'Zhang'" in problem
    with pytest.raises(WeakPassword):
        check_password(password, "Zhang")


@pytest.mark.parametrize(
    "password", [GOOD, "Kettle-Harbour-93", "horse battery staple", "ahph9Ieb0aeJ", "x" + "é" * 80]
)
def test_long_uncommon_passwords_are_accepted(password: str) -> None:
    if password.startswith("x"):
        password = "river-stone-7731-" + password  # longer than zxcvbn rates: rated by its start
    assert password_problem(password, "zhang") is None
    assert verify_password(hash_password(password, "zhang"), password)


def test_the_demo_password_meets_the_policy_for_every_demo_user() -> None:
    for username in ["supervisor", *(f"agent{FIRST_AGENT_EXT + n}" for n in range(20))]:
        assert password_problem(DEMO_PASSWORD, username) is None, username


def _cli(tmp_path: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "callcenter.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "c.db"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "user", *args, "--config", str(config)],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_user_add_and_set_password_apply_the_policy_with_a_clear_message(
    tmp_path: Path,
) -> None:
    for weak, reason in [
        ("aaaaaaaa", "it has 8 characters, fewer than 12"),
        ("demo-password", "it is too easy to guess"),
        ("zhang-Kettle-Harbour-93", "it contains the username 'zhang'"),
    ]:
        refused = _cli(
            tmp_path, "add", "zhang", "--role", "admin", "--password-stdin", password=weak
        )
        assert refused.returncode == 1, refused.stderr
        assert f"error: password refused: {reason}" in refused.stderr
        assert "at least 12 characters" in refused.stderr
        assert weak not in refused.stderr  # the password itself is never echoed
    listed = _cli(tmp_path, "list", password="")
    assert "zhang" not in listed.stdout  # nothing was created

    added = _cli(tmp_path, "add", "zhang", "--role", "admin", "--password-stdin", password=GOOD)
    assert added.returncode == 0, added.stderr
    refused = _cli(tmp_path, "set-password", "zhang", "--password-stdin", password="password")
    assert refused.returncode == 1 and "error: password refused" in refused.stderr
    changed = _cli(
        tmp_path, "set-password", "zhang", "--password-stdin", password="Kettle-Harbour-93"
    )
    assert changed.returncode == 0, changed.stderr
    assert "password of zhang changed" in changed.stdout
