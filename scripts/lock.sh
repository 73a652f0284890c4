#!/usr/bin/env bash
# Resolves the dependencies of pyproject.toml (and its build back-end, requirements/build.in)
# into the lock files that every install uses with `pip install --require-hashes`:
#   requirements/runtime.lock   the service: docker/callcenter.Dockerfile
#   requirements/test.lock      the service and the test tools: scripts/setup.sh
# Each pinned version carries the hash of every file PyPI has for it (the wheels for Linux
# x86_64 and aarch64 among them), and the resolution holds on every platform (markers), for
# Python 3.11. The test lock is constrained by the runtime lock, so both pin the same versions.
#
#   bash scripts/lock.sh                        after editing dependencies in pyproject.toml:
#                                               keeps every other pin as it is
#   bash scripts/lock.sh --upgrade              every package to its newest allowed release
#   bash scripts/lock.sh --upgrade-package NAME one package (repeatable)
#
# Then review the diff, run the tests, audit (README: pip-audit) and commit the lock files.
# The tool, uv, is installed at a pinned version in a virtual environment of its own under
# ~/.cache/callcenter (nothing is installed into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
tools=${XDG_CACHE_HOME:-$HOME/.cache}/callcenter/lock-tools-uv-$UV_VERSION
if [ ! -x "$tools/bin/uv" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q "uv==$UV_VERSION"
fi

compile() {
  "$tools/bin/uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "bash scripts/lock.sh" \
    pyproject.toml requirements/build.in "$@"
}
compile --output-file requirements/runtime.lock "$@"
compile --extra test --constraint requirements/runtime.lock --output-file requirements/test.lock "$@"
echo "lock: requirements/runtime.lock and requirements/test.lock written; review with git diff"
