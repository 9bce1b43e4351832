#!/usr/bin/env bash
# Start (and if missing, install) what the test suite needs: PostgreSQL on 127.0.0.1:5432,
# Redis on 127.0.0.1:6379, Debian's chromium and FreeRADIUS.
set -euo pipefail

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not installed; installing it with apt-get."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # A throwaway test server: trust on loopback, as on the development machines.
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
fi

if ! pg_ready; then
  echo "Starting PostgreSQL."
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
pg_ready || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
echo "PostgreSQL is ready on 127.0.0.1:5432."

# Redis: the Celery broker of the fan-out test (tests/billing/test_celery_fanout.py).
redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
if ! command -v redis-server >/dev/null 2>&1; then
  echo "Redis is not installed; installing it with apt-get."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server >/dev/null
fi
if ! redis_ready; then
  echo "Starting Redis."
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
fi
redis_ready || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
echo "Redis is ready on 127.0.0.1:6379."

# The browser tests (tests/e2e) drive Debian's chromium; Playwright never downloads one.
if [ ! -x /usr/bin/chromium ]; then
  echo "Chromium is not installed; installing it with apt-get."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

# The RADIUS end-to-end tests (tests/radius) start Debian's FreeRADIUS themselves, on
# 127.0.0.1 with a generated configuration; the packaged service itself is not needed.
if ! command -v freeradius >/dev/null 2>&1 && ! command -v radiusd >/dev/null 2>&1 \
  || ! command -v radclient >/dev/null 2>&1 \
  || ! ls /usr/lib/freeradius/rlm_sql_postgresql.so >/dev/null 2>&1; then
  echo "FreeRADIUS is not installed; installing it with apt-get."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq freeradius freeradius-postgresql freeradius-utils >/dev/null
fi

# PDF checks in the tests (pdftotext) and the screenshot script (pdftoppm) use poppler.
if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
  echo "poppler-utils is not installed; installing it with apt-get."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq poppler-utils >/dev/null
fi
