#!/usr/bin/env bash
# make bench-cluster: the kickout step (a kick and its re-join) on one node
# on SQLite, one node on PostgreSQL and two nodes on PostgreSQL, in one run
# and with the same client, all at full durability (SQLite syncs each
# commit; PostgreSQL runs with fsync on and synchronous_commit on); then
# the cross-node kick-to-close: event streams held on node 2, their devices
# kicked through node 1.
#
#   bench/cluster.sh [BUILD_DIR]
#
# Environment: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (64,
# split between the nodes when there are two), BENCH_THREADS (2),
# BENCH_MEETINGS (10), BENCH_PARTICIPANTS (100), MEETD_THREADS (2),
# CLUSTER_STREAMS (1000), CLUSTER_KICKS (500), CLUSTER_KICK_RATE (100),
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
STREAMS=${CLUSTER_STREAMS:-1000}
KICKS=${CLUSTER_KICKS:-500}
KICK_RATE=${CLUSTER_KICK_RATE:-100}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/meetbench.XXXXXX")
# PostgreSQL runs as another user when this runs as root: its directory
# must be reachable by that user (pg-test.sh makes its own DIR private).
PGROOT=$(mktemp -d /tmp/meetpg.XXXXXX)
chmod 711 "$PGROOT"
PGDIR=$PGROOT/pg
. "$(dirname "$0")/lib.sh"

NODE2_PID=
NODE2_LOG=
# Node 2 is stopped as stop_meetd stops node 1 (its errors kept), through
# bash's dynamic scope.
stop_node2() {
  local MEETD_PID=$NODE2_PID MEETD_LOG=$NODE2_LOG
  stop_meetd
  NODE2_PID=
}
cleanup() {
  stop_node2
  "$BENCH_ROOT/scripts/pg-test.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$PGROOT"
  finish last-cluster
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$MEETD" ] && [ -x "$MEETBENCH" ] || die "build first: $MEETD and $MEETBENCH"
# The streams need a descriptor each on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
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
NODE2_PID=$MEETD_PID NODE2_LOG=$MEETD_LOG NODE2_CREDS=$MEETD_CREDS
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
stop_node2

# 4. Cross-node kick-to-close: STREAMS devices in 10 meetings, each with its
# event stream open on node 2; setup and the kicks go to node 1, open loop
# at a rate well under what one PostgreSQL node writes, so that the figure
# is the way across and not node 1's queue.
# A kick commits on node 1; node 2 hears of it through its PostgreSQL
# listener and ends the stream (docs/cluster.md). Fresh nodes on a fresh
# database, node 2's caps opened up to the streams as in bench-scale.
CROSS=$(newdb bench_cross)
start_meetd pg-cross-node2 full --threads "$MEETD_THREADS" --postgres "$CROSS" \
  --max-connections $(( STREAMS + 1000 )) --api-reserve 1000 --max-streams-per-app "$STREAMS"
NODE2_PID=$MEETD_PID NODE2_LOG=$MEETD_LOG NODE2_URL=$MEETD_URL
MEETD_PID=
start_meetd pg-cross-node1 full --threads "$MEETD_THREADS" --postgres "$CROSS"
bench pg2-kick-to-close --profile "$MEETD_CREDS" --url "$MEETD_URL" --stream-url "$NODE2_URL" \
  --pid "$NODE2_PID" --threads "$THREADS" --connections 4 --setup-connections 64 \
  --meetings 10 --participants $(( (STREAMS + 9) / 10 )) --kicks "$KICKS" --rate "$KICK_RATE" \
  --hold 1 streams
stop_meetd
stop_node2

python3 "$BENCH_ROOT/bench/summary.py" cluster "$RESULTS"
