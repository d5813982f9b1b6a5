#!/usr/bin/env bash
# make bench-cluster: the kickout step (a kick and its re-join) on one node
# on SQLite, one node on PostgreSQL and two nodes on PostgreSQL, in one run
# and with the same client, all at full durability (SQLite syncs each
# commit; PostgreSQL runs with fsync on and synchronous_commit on).
#
#   bench/cluster.sh [BUILD_DIR]
#
# Environment: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (64,
# split between the nodes when there are two), BENCH_THREADS (2),
# BENCH_MEETINGS (10), BENCH_PARTICIPANTS (100), MEETD_THREADS (2),
# BENCH_KEEP=1 keeps the scratch directory.
#
# Two nodes are driven by two meetbench processes at once, one per node,
# each with its own meetings (a load balancer would spread one client's
# requests; what matters here is that both nodes write to one database at
# the same time). The figure for two nodes is their summed rate.
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
MEETINGS=${BENCH_MEETINGS:-10}
PARTICIPANTS=${BENCH_PARTICIPANTS:-100}
MEETD_THREADS=${MEETD_THREADS:-2}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/meetbench.XXXXXX")
# PostgreSQL runs as another user when this runs as root: its directory
# must be reachable by that user (pg-test.sh makes its own DIR private).
PGROOT=$(mktemp -d /tmp/meetpg.XXXXXX)
chmod 711 "$PGROOT"
PGDIR=$PGROOT/pg
. "$(dirname "$0")/lib.sh"

NODE2_PID=
cleanup() {
  [ -n "$NODE2_PID" ] && { kill -TERM "$NODE2_PID" 2>/dev/null || true; wait "$NODE2_PID" 2>/dev/null || true; }
  "$BENCH_ROOT/scripts/pg-test.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$PGROOT"
  finish last-cluster
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$MEETD" ] && [ -x "$MEETBENCH" ] || die "build first: $MEETD and $MEETBENCH"
CLIENT=(--threads "$THREADS" --duration "$SECS" --warmup "$WARM")
SHAPE=(--meetings "$MEETINGS" --participants "$PARTICIPANTS")

machine_info >&2
say "$(disk_probe)"

# 1. One node on SQLite.
start_meetd sqlite-full full --threads "$MEETD_THREADS"
bench sqlite-kickout --profile "$MEETD_CREDS" --pid "$MEETD_PID" --connections "$CONNS" \
  "${CLIENT[@]}" "${SHAPE[@]}" kickout
stop_meetd

# PostgreSQL, durable, on the same disk.
MEETD_PG_FSYNC=on MEETD_PG_SHARED_BUFFERS=256MB \
  "$BENCH_ROOT/scripts/pg-test.sh" start "$PGDIR" >/dev/null
BASE=$("$BENCH_ROOT/scripts/pg-test.sh" conninfo "$PGDIR")
newdb() {
  psql -X -q -d "$BASE" -c "CREATE DATABASE $1" >/dev/null
  echo "$BASE dbname=$1"
}

# 2. One node on PostgreSQL.
start_meetd pg-one full --threads "$MEETD_THREADS" --postgres "$(newdb bench_one)"
bench pg-kickout --profile "$MEETD_CREDS" --pid "$MEETD_PID" --connections "$CONNS" \
  "${CLIENT[@]}" "${SHAPE[@]}" kickout
stop_meetd

# 3. Two nodes on one PostgreSQL, loaded at once.
TWO=$(newdb bench_two)
start_meetd pg-node2 full --threads "$MEETD_THREADS" --postgres "$TWO"
NODE2_PID=$MEETD_PID NODE2_CREDS=$MEETD_CREDS
MEETD_PID=
start_meetd pg-node1 full --threads "$MEETD_THREADS" --postgres "$TWO"
half=$(( CONNS / 2 ))
bench pg2-kickout-node1 --profile "$MEETD_CREDS" --pid "$MEETD_PID" --connections "$half" \
  "${CLIENT[@]}" "${SHAPE[@]}" kickout &
b1=$!
bench pg2-kickout-node2 --profile "$NODE2_CREDS" --pid "$NODE2_PID" --connections "$half" \
  "${CLIENT[@]}" "${SHAPE[@]}" kickout &
b2=$!
wait "$b1" "$b2"
stop_meetd
kill -TERM "$NODE2_PID" 2>/dev/null || true
wait "$NODE2_PID" 2>/dev/null || true
NODE2_PID=

python3 "$BENCH_ROOT/bench/summary.py" cluster "$RESULTS"
