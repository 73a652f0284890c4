#!/usr/bin/env bash
# Set everything up, then run the whole test suite: lint, types, and pytest (unit tests,
# the real Asterisk rig with SIPp calls, PostgreSQL and SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check callcenter tests bench
.venv/bin/ruff format --check callcenter tests bench
.venv/bin/mypy   # --strict over callcenter/, tests/ and bench/ (pyproject.toml)
# The slowest tests are listed at the end: the suite must stay under 20 minutes. Two
# workers: the rig's tests in one (tests/conftest.py groups them), the rest in the other.
exec .venv/bin/pytest -q --durations=25 -n 2 --dist loadgroup "$@"
