"""`callcenter serve` refuses the example secrets shipped with the project unless --demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter import cli
from callcenter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "callcenter.example.toml"
OWN_SECRET = "Ami-Secret-Of-Our-Own-7f3c"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Settings the service was started with; nothing really starts."""
    runs: list[Settings] = []
    monkeypatch.setattr(cli, "_run_service", runs.append)
    for key in [k for k in os.environ if k.startswith("CALLCENTER_")]:
        monkeypatch.delenv(key)
    return runs


def _config(tmp_path: Path, secret: str, database_url: str = "") -> Path:
    config = tmp_path / "callcenter.toml"
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    config.write_text(
        f'[database]\nurl = "{url}"\n'
        f'[[pbx]]\nname = "main"\nusername = "callcenter"\nsecret = "{secret}"\n',
        encoding="utf-8",
    )
    return config


def test_the_example_config_is_refused_naming_the_setting(started: list[Settings]) -> None:
    result = CliRunner().invoke(cli.main, ["serve", "--config", str(EXAMPLE)])
    assert result.exit_code == 1, result.output
    assert "error: pbx[0].secret (PBX 'rig') is an example secret" in result.stderr
    assert "refusing to start" in result.stderr and "--demo" in result.stderr
    assert "rig-secret-not-for-production" not in result.output  # named, never printed
    assert started == []


@pytest.mark.parametrize(
    ("secret", "database_url", "setting"),
    [
        ("RIG-SECRET-NOT-FOR-PRODUCTION", "", "pbx[0].secret (PBX 'main')"),
        ("mysecret", "", "pbx[0].secret (PBX 'main')"),
        (
            OWN_SECRET,
            "postgresql+asyncpg://callcenter:change-me@127.0.0.1:5432/callcenter",
            "database.url (its password)",
        ),
        (OWN_SECRET, "postgresql://callcenter:PASSWORD@db/callcenter", "database.url"),
    ],
)
def test_every_example_secret_is_refused(
    started: list[Settings], tmp_path: Path, secret: str, database_url: str, setting: str
) -> None:
    config = _config(tmp_path, secret, database_url)
    result = CliRunner().invoke(cli.main, ["serve", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert f"error: {setting}" in result.stderr
    assert started == []


def test_own_secrets_start_and_demo_allows_the_examples_with_a_warning(
    started: list[Settings], tmp_path: Path
) -> None:
    own = _config(tmp_path, OWN_SECRET, "postgresql://callcenter:Db-Pass-Of-Our-Own-91@db/cc")
    result = CliRunner().invoke(cli.main, ["serve", "--config", str(own)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert len(started) == 1

    result = CliRunner().invoke(cli.main, ["serve", "--demo", "--config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "warning: --demo: pbx[0].secret (PBX 'rig') is an example secret" in result.stderr
    assert len(started) == 2 and started[1].pbx[0].name == "rig"


def test_check_config_warns_about_example_secrets(started: list[Settings]) -> None:
    result = CliRunner().invoke(cli.main, ["check-config", "--config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "warning: pbx[0].secret (PBX 'rig') is an example secret" in result.stderr


def test_the_real_command_exits_1_before_starting_anything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    result = subprocess.run(
        [sys.executable, "-m", "callcenter", "serve", "--config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "pbx[0].secret" in result.stderr and "--demo" in result.stderr
