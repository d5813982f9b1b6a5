#!/usr/bin/env bash
# make bench-scale: the issue's scale figures.
#
#   1. kickout latency in one meeting of 10, 1,000 and 100,000 participants
#      (set up through the API, joins spread over many connections), at the
#      same fixed rate so that only the meeting's size differs;
#   2. meetd's RSS with 10,000 device event streams open;
#   3. kick-to-stream-close latency: from a kickout's send to the end of its
#      device's stream (and to the `kicked` event).
#
#   bench/scale.sh [BUILD_DIR]
#
# Environment: BENCH_SECONDS (measured seconds per kickout run, 20),
# BENCH_WARMUP (seconds before measuring, 8),
# SCALE_SIZES ("10 1000 100000"), SCALE_RATE (kick + re-join steps a second,
# 200), SCALE_CONNECTIONS (8), SCALE_STREAMS (10000, as 10 meetings),
# SCALE_KICKS (2000), SCALE_KICK_RATE (500 a second), SCALE_DURABILITY
# ("full normal": every run is made with each),
# BENCH_DIR, BENCH_KEEP, MEETD_THREADS (2).
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
SECS=${BENCH_SECONDS:-20}
# Long enough for the store to write back the setup's burst (100,000 joins
# leave a full WAL behind): the runs measure kickouts in a big meeting, not
# the tail of its creation.
WARM=${BENCH_WARMUP:-8}
SIZES=${SCALE_SIZES:-10 1000 100000}
RATE=${SCALE_RATE:-200}
CONNS=${SCALE_CONNECTIONS:-8}
STREAMS=${SCALE_STREAMS:-10000}
KICKS=${SCALE_KICKS:-2000}
KICK_RATE=${SCALE_KICK_RATE:-500}
MEETD_THREADS=${MEETD_THREADS:-2}
SCALE_DURABILITY=${SCALE_DURABILITY:-full normal}

SCRATCH=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/meetbench.XXXXXX")
. "$(dirname "$0")/lib.sh"

trap 'finish last-scale' EXIT
trap 'exit 130' INT TERM

[ -x "$MEETD" ] && [ -x "$MEETBENCH" ] || die "build first: $MEETD and $MEETBENCH"
# Ten thousand streams need ten thousand descriptors on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
machine_info >&2
DISK=$(disk_probe)
say "$DISK"

# 1. Kickout latency against the size of the meeting; with durability
# normal too, where the disk's sync jitter does not hide the rest.
for d in $SCALE_DURABILITY; do
  for n in $SIZES; do
    start_meetd "meetd-scale-$d-$n" "$d" --threads "$MEETD_THREADS"
    bench "scale-kickout-$d-$n" --profile "$MEETD_CREDS" --pid "$MEETD_PID" \
      --connections "$CONNS" --setup-connections 64 --duration "$SECS" --warmup "$WARM" \
      --meetings 1 --participants "$n" --rate "$RATE" kickout
    stop_meetd
  done
done

# 2 and 3. Streams: STREAMS devices in 10 meetings, each with its stream,
# all of one app: the caps are opened up to them (1,000 connections kept
# for the requests beside the streams).
per=$(( (STREAMS + 9) / 10 ))
for d in $SCALE_DURABILITY; do
  start_meetd "meetd-streams-$d" "$d" --threads "$MEETD_THREADS" \
    --max-connections $(( STREAMS + 1000 )) --api-reserve 1000 \
    --max-streams-per-app "$STREAMS"
  bench "scale-streams-$d" --profile "$MEETD_CREDS" --pid "$MEETD_PID" --connections 4 \
    --setup-connections 64 --meetings 10 --participants "$per" --kicks "$KICKS" \
    --rate "$KICK_RATE" --hold 2 streams
  stop_meetd
done

echo
machine_info
echo "$DISK"
echo "kickout runs: one meeting, $CONNS connections, open loop at $RATE kick+re-join steps/s, ${SECS} s"
echo "streams: $STREAMS in 10 meetings; $KICKS kicks at $KICK_RATE/s over 4 connections"
python3 "$BENCH_ROOT/bench/summary.py" scale "$RESULTS"
echo "(results: $BUILD/bench/last-scale/*.json)"
