#!/usr/bin/env bash
# Set everything up, then run the whole test suite: lint, types, and pytest (unit tests,
# the real Asterisk rig with SIPp calls, PostgreSQL and SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Two pytest sessions side by side: the rig's tests (one Asterisk on fixed ports: they run
# one after the other, mostly waiting for calls) and all the others. Each draws its test
# ports from its own slice. The suite must stay under 20 minutes: each session lists its
# slowest tests at the end. The rig's session is the longer one: it starts first, and the
# lint and type checks run while it waits for its calls (a failed check still fails the run).
rig_log=$(mktemp)
rig_pid=
# On the way out early (a check failed): SIGTERM, which the tests' conftest turns into an
# interrupt whose teardowns stop the rig, the phones and the services; then wait for them.
trap '[ -n "$rig_pid" ] && kill "$rig_pid" 2>/dev/null && wait "$rig_pid"; rm -f "$rig_log"' EXIT
CALLCENTER_TEST_PORTS=30000-31349 .venv/bin/pytest -q --durations=15 -m rig "$@" \
  >"$rig_log" 2>&1 &
rig_pid=$!
.venv/bin/ruff check callcenter tests bench
.venv/bin/ruff format --check callcenter tests bench
.venv/bin/mypy   # --strict over callcenter/, tests/ and bench/ (pyproject.toml)
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
