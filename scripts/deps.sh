#!/usr/bin/env bash
# Installs the Debian packages meetd needs to build, run and test.
# Idempotent and quiet when everything is already there.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang
  libmicrohttpd-dev libjansson-dev libssl-dev libsqlite3-dev libpq-dev
  libcurl4-openssl-dev libcmocka-dev
  python3 sqlite3 curl openssl
  # PostgreSQL: the server the tests start (scripts/pg-test.sh) and that a
  # cluster of nodes shares (docs/cluster.md); libpq-dev above is its client.
  postgresql-15
)
# libclang-rt provides clang's sanitizer runtimes for fuzzing.
if [ "${MEETD_DEPS_FUZZ:-0}" = 1 ]; then pkgs+=(libclang-rt-14-dev); fi
# nginx is the benchmark's anchor (make bench). Debian 12's `nginx` is the
# plain server (nginx-light adds the echo module, not needed for `return`).
if [ "${MEETD_DEPS_BENCH:-0}" = 1 ]; then pkgs+=(nginx); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
