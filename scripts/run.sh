#!/usr/bin/env bash
# `make run`: migrate the database (SQLite under var/ unless SESAME_DATABASE_URL says otherwise),
# load the demo tenants, and serve on http://127.0.0.1:8000 in dev mode, with the demo partner
# (a website that logs in with Sésame) on http://127.0.0.1:8001, stopped with the server. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export SESAME_DEV_MODE="${SESAME_DEV_MODE:-1}"
BIN=.venv/bin
"$BIN/sesame" db upgrade
"$BIN/sesame" demo load
echo
echo "Demo tenants:"
"$BIN/sesame" tenant list
echo "Dev inbox (every email, SMS and letter): ${SESAME_BASE_URL:-http://127.0.0.1:8000}/_dev/outbox"
# The demo partner reads its client from var/demo-partner.json (written by `sesame demo load`).
SESAME_PARTNER_ISSUER="${SESAME_PARTNER_ISSUER:-${SESAME_BASE_URL:-http://127.0.0.1:8000}/laposte}" \
  "$BIN/python" -m sesame_demo_partner &
PARTNER_PID=$!
trap 'kill "$PARTNER_PID" 2>/dev/null || true' EXIT
echo "Demo partner (\"Se connecter avec Sésame\", then the laposte demo login above): http://127.0.0.1:8001"
echo
"$BIN/sesame" serve --host "${SESAME_HOST:-127.0.0.1}" --port "${SESAME_PORT:-8000}"
