#!/usr/bin/env bash
# Set everything up, then run the whole test suite: lint, types, and pytest (unit tests,
# the real Asterisk rig with SIPp calls, PostgreSQL and SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check callcenter tests bench
.venv/bin/ruff format --check callcenter tests bench
.venv/bin/mypy   # --strict over callcenter/, tests/ and bench/ (pyproject.toml)

# Two pytest sessions side by side: the rig's tests (one Asterisk on fixed ports: they run
# one after the other, mostly waiting for calls) and all the others. Each draws its test
# ports from its own slice. The suite must stay under 20 minutes: each session lists its
# slowest tests at the end.
rig_log=$(mktemp)
rig_pid=
trap '[ -n "$rig_pid" ] && kill "$rig_pid" 2>/dev/null; rm -f "$rig_log"' EXIT
CALLCENTER_TEST_PORTS=30000-31349 .venv/bin/pytest -q --durations=15 -m rig "$@" \
  >"$rig_log" 2>&1 &
rig_pid=$!
others=0
CALLCENTER_TEST_PORTS=31350-32699 .venv/bin/pytest -q --durations=15 -m "not rig" "$@" || others=$?
rig=0
wait "$rig_pid" || rig=$?
rig_pid=
echo "=================== the rig's tests ==================="
cat "$rig_log"
# pytest's 5: no test selected (a run of given tests that are all of one kind).
[ "$others" -eq 5 ] && others=0
[ "$rig" -eq 5 ] && rig=0
echo "pytest exit: others $others, rig $rig"
[ "$others" -eq 0 ] && [ "$rig" -eq 0 ]
