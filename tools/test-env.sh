#!/usr/bin/env bash
# The one set-up of the machine the tests run on (README "Tests"; .ci/run calls it too).
#
# The tests drive real peers and services, never fakes of them (DESIGN.md "Interop peers"):
#   - Debian packages: oathtool (reference HOTP/TOTP), pskctool + python3-pskc (PSKC), libpam-oath + pamtester
#     (a real PAM verifier), socat (PTY pairs), wrk (load from a second process, used by benches).
#   - PostgreSQL on 127.0.0.1:5432 with trust auth for local TCP and a database `test` (the store contract and
#     race tests; TOKENFORGE_TEST_PG overrides the URL).
#
# As root, missing packages are installed (one apt-get update first) and PostgreSQL is installed, configured and
# started when it is not answering. Without root nothing is changed: the script names what is missing and the
# command that installs it, then exits 1. It is idempotent and quick when everything is in place, so `npm test`
# runs it every time. TOKENFORGE_SKIP_TEST_ENV=1 skips it (e.g. for a machine set up by other means).
set -euo pipefail

[ "${TOKENFORGE_SKIP_TEST_ENV:-}" = "1" ] && exit 0

PKGS=(oathtool pskctool pskc-utils python3-pskc libpam-oath pamtester socat wrk)
PG_PORT=5432
PG_DB=test

say() { printf 'test-env: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = "0" ]; }

missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; }
pg_installed() { [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; }
pg_installed || missing+=(postgresql)

apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ${#missing[@]} -gt 0 ]; then
  if ! is_root; then
    say "missing Debian packages: ${missing[*]}"
    say "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    say "(or run npm test as root, which installs them; TOKENFORGE_SKIP_TEST_ENV=1 skips this check)"
    exit 1
  fi
  say "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# PostgreSQL: the cluster must answer on 127.0.0.1 with trust auth for local TCP (tests connect as postgres
# without a password) and hold a database named `test`.
ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
hba="/etc/postgresql/$ver/main/pg_hba.conf"
if is_root && [ -f "$hba" ] && ! grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
  # A fresh Debian cluster asks for a password on TCP; the tests' throw-away cluster trusts loopback.
  say "trusting loopback connections in $hba"
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_up && pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
fi
if ! pg_up; then
  if ! is_root; then
    say "PostgreSQL is not answering on 127.0.0.1:$PG_PORT"
    say "start it with: sudo pg_ctlcluster --skip-systemctl-redirect $ver main start"
    exit 1
  fi
  say "starting PostgreSQL $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { say "PostgreSQL did not start; see /var/log/postgresql/"; exit 1; }
fi
if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$PG_DB" -Atqc 'select 1' >/dev/null 2>&1; then
  if psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    say "creating database $PG_DB"
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "create database $PG_DB" >/dev/null
  else
    say "PostgreSQL answers but user postgres cannot connect to 127.0.0.1:$PG_PORT without a password"
    say "add 'host all all 127.0.0.1/32 trust' at the top of pg_hba.conf and reload, or set TOKENFORGE_TEST_PG"
    exit 1
  fi
fi
