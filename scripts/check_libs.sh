#!/usr/bin/env bash
# Checks that every shared library the tests' binaries need is installed: Playwright's bundled
# Node.js driver (in the virtual environment), Debian's Chromium (/usr/bin/chromium is a shell
# wrapper around /usr/lib/chromium/chromium) and every compiled Python extension in the venv;
# and that the commands the tests run (openssl, sipp, pg_ctl) are there. `ldd` lists what the loader cannot find;
# each missing library is named with the Debian package to install. Exit status 1 when anything
# is missing. Run by scripts/setup.sh after the install and by tests/security/test_fresh_machine.py.
#
#   bash scripts/check_libs.sh [VENV]        (default: .venv of this repository)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}

# Missing libraries we have met, or that these binaries are known to load, and their packages
# (Debian 12). Anything else is looked up with dpkg -S, then guessed from the Debian library
# naming rule (libfoo.so.N is in libfooN, libfoo-N when the name ends with a digit).
declare -A PACKAGE_OF=(
  [libatomic.so.1]=libatomic1
  [libstdc++.so.6]=libstdc++6
  [libgcc_s.so.1]=libgcc-s1
  [libnss3.so]=libnss3 [libnssutil3.so]=libnss3 [libsmime3.so]=libnss3
  [libnspr4.so]=libnspr4 [libplc4.so]=libnspr4 [libplds4.so]=libnspr4
  [libasound.so.2]=libasound2
  [libgbm.so.1]=libgbm1
  [libdrm.so.2]=libdrm2
  [libxkbcommon.so.0]=libxkbcommon0
  [libatk-1.0.so.0]=libatk1.0-0
  [libatk-bridge-2.0.so.0]=libatk-bridge2.0-0
  [libatspi.so.0]=libatspi2.0-0
  [libcups.so.2]=libcups2
  [libdbus-1.so.3]=libdbus-1-3
  [libexpat.so.1]=libexpat1
  [libglib-2.0.so.0]=libglib2.0-0 [libgobject-2.0.so.0]=libglib2.0-0 [libgio-2.0.so.0]=libglib2.0-0
  [libpango-1.0.so.0]=libpango-1.0-0
  [libcairo.so.2]=libcairo2
  [libX11.so.6]=libx11-6 [libxcb.so.1]=libxcb1 [libXext.so.6]=libxext6
  [libXcomposite.so.1]=libxcomposite1 [libXdamage.so.1]=libxdamage1
  [libXfixes.so.3]=libxfixes3 [libXrandr.so.2]=libxrandr2
)

package_of() {
  local soname=$1 owner base version
  if [ -n "${PACKAGE_OF[$soname]:-}" ]; then
    echo "${PACKAGE_OF[$soname]}"
    return
  fi
  # Installed somewhere the loader does not look (or for another architecture).
  owner=$(dpkg -S "*/$soname" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  if [ -n "$owner" ]; then
    echo "$owner"
    return
  fi
  if [[ $soname =~ ^(lib.+)\.so\.([0-9]+) ]]; then
    base=${BASH_REMATCH[1],,}
    version=${BASH_REMATCH[2]}
    if [[ $base =~ [0-9]$ ]]; then
      echo "$base-$version (probably)"
    else
      echo "$base$version (probably)"
    fi
    return
  fi
  echo "unknown: look it up with apt-file search $soname"
}

# The ELF file behind a command: itself, or the binary its shell wrapper starts.
real_binary() {
  local file=$1 libdir appname
  if [ "$(head -c 4 "$file" | tail -c 3)" = "ELF" ]; then
    echo "$file"
    return
  fi
  libdir=$(sed -n 's/^LIBDIR=//p' "$file" | head -n 1)
  appname=$(sed -n 's/^APPNAME=//p' "$file" | head -n 1)
  libdir=${libdir//\$APPNAME/$appname}
  echo "${libdir:-/usr/lib/chromium}/${appname:-chromium}"
}

binaries=()
problems=0
node=$(compgen -G "$venv/lib/python3*/site-packages/playwright/driver/node" | head -n 1 || true)
if [ -z "$node" ]; then
  echo "check_libs: Playwright's driver is not installed in $venv (run scripts/setup.sh)" >&2
  problems=1
else
  binaries+=("$node")
fi
if [ ! -e /usr/bin/chromium ]; then
  echo "check_libs: /usr/bin/chromium is missing: apt-get install chromium" >&2
  problems=1
else
  chromium=$(real_binary /usr/bin/chromium)
  if [ -x "$chromium" ]; then
    binaries+=("$chromium")
  else
    echo "check_libs: $chromium (started by /usr/bin/chromium) is missing:" \
      "apt-get install --reinstall chromium" >&2
    problems=1
  fi
fi

programs=("${binaries[@]}")
# The compiled extensions of the locked Python packages (asyncpg, orjson, argon2, the
# schemathesis stack's jsonschema-rs...): wheels assume the system has their libraries.
while IFS= read -r -d '' extension; do
  binaries+=("$extension")
done < <(find "$venv"/lib/python3*/site-packages -name '*.so' -print0 2>/dev/null)
# Commands the tests run besides the rig's own (which lives in its root file system).
for command in openssl sipp pg_ctl; do
  if ! command -v "$command" >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/$command" >/dev/null; then
    echo "check_libs: the $command command is missing (scripts/setup.sh installs its package)" >&2
    problems=1
  fi
done

missing_packages=()
for binary in "${binaries[@]}"; do
  if ! output=$(ldd "$binary" 2>&1); then
    echo "check_libs: ldd $binary failed: $output" >&2
    problems=1
    continue
  fi
  while read -r soname _; do
    package=$(package_of "$soname")
    echo "check_libs: $binary needs $soname, which is not installed: install Debian package $package" >&2
    missing_packages+=("${package%% *}")
    problems=1
  done < <(printf '%s\n' "$output" | awk '$2 == "=>" && $3 == "not" && $4 == "found" {print $1}')
done

if [ "$problems" -ne 0 ]; then
  if [ "${#missing_packages[@]}" -gt 0 ]; then
    echo "check_libs: add to SYSTEM_PACKAGES in scripts/setup.sh:" \
      "$(printf '%s\n' "${missing_packages[@]}" | sort -u | tr '\n' ' ')" >&2
  fi
  exit 1
fi
extensions=$(( ${#binaries[@]} - ${#programs[@]} ))
echo "check_libs: every shared library of ${programs[*]} and of $extensions compiled Python extension(s) is installed"
