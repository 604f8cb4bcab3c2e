#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only those missing (idempotent).
# PostgreSQL and Redis are started by scripts/test.sh on 127.0.0.1; Chromium drives the browser tests;
# Tesseract reads identity documents' machine-readable zone (tests render specimens in OCR-B);
# DejaVu fonts render letters.
set -euo pipefail
need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v tesseract >/dev/null || need+=(tesseract-ocr)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/opentype/ocr-b/OCRB.otf ] || need+=(fonts-ocr-b)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages to install: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: installing ${need[*]} needs root (sudo apt-get install ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
