"""Configuration: file, environment overrides, and `callcenter check-config`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.logs import SecretMaskingFilter
from callcenter.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "callcenter.example.toml"
SECRET = "s3cr3t-do-not-print"


def check_config(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_the_commented_example_is_valid() -> None:
    result = check_config(EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and "rig" in result.stdout
    # Valid, but its AMI secret is the example one that `serve` refuses without --demo.
    assert "warning: pbx[0].secret (PBX 'rig') is an example secret" in result.stderr


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_HTTP__PORT", "9191")
    monkeypatch.setenv("CALLCENTER_DATABASE__URL", "postgresql://u:p@db/cc")
    settings, path = load_settings(EXAMPLE)
    assert path == EXAMPLE
    assert settings.http.port == 9191
    assert settings.database.url.get_secret_value() == "postgresql+asyncpg://u:p@db/cc"
    assert settings.pbx[0].name == "rig"


def test_every_mistake_is_named_with_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        '[http]\nport = 70000\ncolour = "red"\n'
        f'[[pbx]]\nname = "Main PBX"\nusername = "cc"\nsecret = "{SECRET}"\nport = "x"\n'
        '[database]\nurl = "mysql://root@db/cc"\n',
        encoding="utf-8",
    )
    result = check_config(broken)
    assert result.returncode != 0
    errors = result.stderr
    for key in ("http.port", "http.colour", "pbx[0].name", "pbx[0].port", "database.url"):
        assert f"{broken}: {key}:" in errors, errors
    assert "unknown key" in errors and "unsupported scheme" in errors
    assert SECRET not in result.stdout + result.stderr


def test_two_pbxs_with_one_name_are_refused(tmp_path: Path) -> None:
    twice = tmp_path / "twice.toml"
    pbx = f'[[pbx]]\nname = "b"\nusername = "cc"\nsecret = "{SECRET}"\n'
    twice.write_text(pbx + pbx, encoding="utf-8")
    result = check_config(twice)
    assert result.returncode != 0
    assert f"{twice}: pbx: duplicate PBX name(s): b" in result.stderr


def test_toml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "syntax.toml"
    broken.write_text(f'[[pbx]]\nsecret = "{SECRET}\n', encoding="utf-8")
    result = check_config(broken)
    assert result.returncode != 0
    assert f"{broken}: not valid TOML" in result.stderr and "line" in result.stderr
    assert SECRET not in result.stderr
    missing = check_config(tmp_path / "nope.toml")
    assert missing.returncode != 0 and "file not found" in missing.stderr


def test_a_bad_environment_value_is_blamed_on_the_variable() -> None:
    result = check_config(EXAMPLE, CALLCENTER_HTTP__PORT="0")
    assert result.returncode != 0
    assert "environment CALLCENTER_HTTP__PORT: http.port:" in result.stderr


def test_secrets_from_the_settings_are_masked_in_log_lines(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[database]\nurl = "postgresql://cc:dbpass-{SECRET}@db/cc"\n'
        f'[[pbx]]\nname = "a"\nusername = "cc"\nsecret = "{SECRET}"\n'
        f'[work.smtp]\nhost = "relay"\nusername = "cc"\npassword = "relay-pw-5150"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "absent.toml")
    settings, _ = load_settings(config)
    masking = SecretMaskingFilter(settings.secrets())
    record = logging.LogRecord(
        "t",
        logging.INFO,
        __file__,
        1,
        "login with %s failed (%s, %s)",
        (SECRET, f"dbpass-{SECRET}", "relay-pw-5150"),
        None,
    )
    masking.filter(record)
    assert SECRET not in record.getMessage()
    assert "relay-pw-5150" not in record.getMessage()
    assert "***" in record.getMessage()
