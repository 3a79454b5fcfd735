#!/usr/bin/env bash
# The system packages the tests need, installed only when missing: Debian's Chromium for the browser tests
# (Playwright's own browser download does not work on our machines) and PostgreSQL for the SQL tests (tests/pg_server.py
# starts a private server from /usr/lib/postgresql/*/bin; without it those tests are skipped with the reason).
set -euo pipefail
missing=()
if ! { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; }; then
  missing+=(chromium chromium-driver)
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
