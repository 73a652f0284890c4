#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (as root) needs: system packages, the virtual
# environment with the project installed, and the cached Asterisk 22 root file system.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  python3 python3-venv python3-pip ca-certificates
  debootstrap bubblewrap       # the Asterisk rig: a Debian sid root file system run under bwrap
  sip-tester                   # SIPp: callers and agent phones
  postgresql                   # server binaries for the throw-away test database
  espeak-ng sox                # prompts generated at build time
  iproute2 procps              # ss / pgrep used by tests
  openssl                      # throw-away certificates for the AMI-over-TLS tests
  chromium                     # headless browser for the agent-console end-to-end test
  libatomic1                   # needed by Playwright's bundled Node.js driver (not a chromium dependency)
  fonts-wqy-microhei           # Chinese glyphs in the pages' screenshots (CALLCENTER_SHOTS)
)

missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages exactly as locked in requirements/test.lock (every file checked against its
# hash; `bash scripts/lock.sh` updates the lock), then the project itself without dependencies.
# Done again only when pyproject.toml or the lock changes.
LOCK=requirements/test.lock
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml "$LOCK" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --require-hashes -r "$LOCK"
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  rm -f .venv/.installed-* && touch "$stamp"
fi

# Every shared library of Playwright's driver and of Chromium must be there, or the browser
# tests fail late with a loader error: name the missing library and its package now.
bash scripts/check_libs.sh .venv

.venv/bin/python -m callcenter.rig build
