#!/usr/bin/env bash
# `make test`: everything CI checks, on a fresh machine or a used one.
#  1. Debian packages (postgresql, redis-server, chromium, tesseract-ocr) if missing;
#  2. throwaway PostgreSQL and Redis on 127.0.0.1, stopped on exit whatever happens;
#  3. ruff, mypy, generated docs up to date;
#  4. the whole suite on SQLite (with the browser tests), then again on PostgreSQL.
# Tests that need PostgreSQL or Redis fail instead of skipping here (SESAME_REQUIRE_SERVICES=1).
# Extra arguments go to pytest, e.g. `make test ARGS="-k outbox"` or `scripts/test.sh -k outbox`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

scripts/system-deps.sh

services_dir=$(mktemp -d /tmp/sesame-test-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
eval "$(scripts/services.sh start "$services_dir")"
export SESAME_REQUIRE_SERVICES=1
echo "test servers: PostgreSQL and Redis on 127.0.0.1 (in $services_dir)"

echo "== ruff"
"$BIN/ruff" check sesame sesame_demo_partner tests bench
"$BIN/ruff" format --check sesame sesame_demo_partner tests bench
echo "== mypy (domain, services, flows, oidc, ports, config)"
"$BIN/mypy"
echo "== generated documentation"
"$BIN/sesame" config docs --check

run_pytest() {
  # pytest exits 5 when it collected no test: that is a failure here, never a pass.
  local status=0
  "$BIN/pytest" "$@" || status=$?
  if [ "$status" -eq 5 ]; then
    echo "error: pytest ran no test" >&2
    return 1
  fi
  return "$status"
}

workers=$(python3 -c 'import os; print(max(2, os.cpu_count() or 1))')
echo "== tests on SQLite"
SESAME_TEST_DB=sqlite run_pytest -n "$workers" -p no:cacheprovider "$@"
echo "== tests on PostgreSQL"
SESAME_TEST_DB=postgresql run_pytest -n "$workers" -p no:cacheprovider -m "not browser" "$@"
