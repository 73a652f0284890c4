"""A fresh Debian 12 machine gets every shared library the browser tests load: Playwright's
bundled Node.js driver needs libatomic.so.1, which Chromium does not pull in. The check is
scripts/check_libs.sh, the same that scripts/setup.sh runs after the install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check_libs.sh"


def _check(venv: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CHECK), str(venv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_playwright_s_driver_and_chromium_find_every_shared_library() -> None:
    result = _check(Path(sys.prefix))
    # On failure the message names each missing library and the Debian package to add.
    assert result.returncode == 0, result.stderr
    assert "playwright/driver/node" in result.stdout and "chromium" in result.stdout


def test_a_missing_library_is_named_with_the_package_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "ldd"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        "printf '\\tlinux-vdso.so.1 (0x0)\\n'\n"
        "printf '\\tlibatomic.so.1 => not found\\n'\n"
        "printf '\\tlibexample9.so.2 => not found\\n'\n"
        "printf '\\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\\n'\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    result = _check(Path(sys.prefix), env)
    assert result.returncode == 1
    assert re.search(
        r"node needs libatomic\.so\.1, .*install Debian package libatomic1\n", result.stderr
    )
    assert "libexample9.so.2" in result.stderr and "libexample9-2 (probably)" in result.stderr
    assert "add to SYSTEM_PACKAGES in scripts/setup.sh: libatomic1 libexample9-2" in result.stderr


def test_a_virtual_environment_without_playwright_is_reported(tmp_path: Path) -> None:
    result = _check(tmp_path)
    assert result.returncode == 1 and "Playwright's driver is not installed" in result.stderr


def test_setup_installs_libatomic_and_runs_the_check() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    packages = re.search(r"SYSTEM_PACKAGES=\((.*?)\n\)", setup, re.S)
    assert packages is not None
    names = {line.split("#")[0].strip() for line in packages.group(1).splitlines()}
    listed = {word for line in names for word in line.split()}
    assert {"libatomic1", "chromium"} <= listed
    assert "bash scripts/check_libs.sh .venv" in setup
