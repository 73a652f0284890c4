"""The dependencies are installed from lock files with hashes (requirements/*.lock, written by
`bash scripts/lock.sh`): by scripts/setup.sh and by the service's Docker image."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "requirements" / "runtime.lock"
TEST = ROOT / "requirements" / "test.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ;.*?)? \\$")


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes) of a lock file."""
    found: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match.group(1))
            found[name] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:"):
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
        elif line and not line.startswith((" ", "#")):
            raise AssertionError(f"{lock.name}: not a pinned requirement: {line}")
    return found


def project() -> dict[str, list[Requirement]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in data["dependencies"]]
    test = [Requirement(r) for r in data["optional-dependencies"]["test"]]
    build = [
        Requirement(line)
        for line in (ROOT / "requirements" / "build.in").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return {"runtime": runtime + build, "test": runtime + test + build}


@pytest.mark.parametrize(("lock", "kind"), [(RUNTIME, "runtime"), (TEST, "test")])
def test_every_dependency_is_pinned_with_hashes_within_pyproject_s_range(
    lock: Path, kind: str
) -> None:
    pinned = pins(lock)
    assert all(hashes > 0 for _, hashes in pinned.values())
    for requirement in project()[kind]:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {lock.name}: run bash scripts/lock.sh"
        version = pinned[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
    assert "pytest" in pinned if kind == "test" else "pytest" not in pinned


def test_the_two_locks_pin_the_same_versions() -> None:
    runtime, test = pins(RUNTIME), pins(TEST)
    assert {name: test[name] for name in runtime} == runtime


def test_setup_installs_the_lock_with_hashes_and_reinstalls_when_it_changes() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "LOCK=requirements/test.lock" in setup
    assert 'pip install -q --require-hashes -r "$LOCK"' in setup
    assert "pip install -q --no-deps --no-build-isolation -e ." in setup
    assert 'cat pyproject.toml "$LOCK" | sha256sum' in setup  # the stamp covers the lock
    lock_script = (ROOT / "scripts" / "lock.sh").read_text(encoding="utf-8")
    assert "--generate-hashes" in lock_script and "--universal" in lock_script
    for lock in (RUNTIME, TEST):
        assert "bash scripts/lock.sh" in lock.read_text(encoding="utf-8").splitlines()[1]
