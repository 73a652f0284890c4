#!/usr/bin/env bash
# Set everything up, then run the rig's Asterisk, the service on SQLite and live SIPp
# traffic; prints the URLs. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/callcenter demo "$@"
