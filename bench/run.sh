#!/usr/bin/env bash
# make bench: nginx's static rate, libmicrohttpd alone, then meetd's
# scenarios with the same client settings, durability full and then normal,
# and nginx once more; ratios to the first nginx run.
#
#   bench/run.sh [BUILD_DIR]
#
# Environment: BENCH_SECONDS (each run's measured seconds, default 10),
# BENCH_WARMUP (2), BENCH_CONNECTIONS (64), BENCH_THREADS (client threads,
# 2), BENCH_SCENARIOS ("kickout join-churn participants mixed"),
# BENCH_DURABILITY ("full normal"), BENCH_MEETINGS (10), BENCH_PARTICIPANTS
# (100), BENCH_HALF_RUNS (runs at half the kickout rate, each on a fresh
# meetd, each after nginx at the same request rate, 3), NGINX_WORKERS (nproc), MEETD_THREADS (meetd's --threads, 2),
# BENCH_DIR (where the scratch directory goes; its disk is the one meetd
# syncs to, default $TMPDIR or /tmp), BENCH_KEEP=1 keeps it.
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
SCENARIOS=${BENCH_SCENARIOS:-kickout join-churn participants mixed}
DURABILITY=${BENCH_DURABILITY:-full normal}
MEETINGS=${BENCH_MEETINGS:-10}
PARTICIPANTS=${BENCH_PARTICIPANTS:-100}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
MEETD_THREADS=${MEETD_THREADS:-2}
HALF_RUNS=${BENCH_HALF_RUNS:-3}

SCRATCH=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/meetbench.XXXXXX")
. "$(dirname "$0")/lib.sh"

trap 'finish last' EXIT
trap 'exit 130' INT TERM

[ -x "$MEETD" ] && [ -x "$MEETBENCH" ] && [ -x "$MHD_STATIC" ] || die "build first: $MEETD, $MEETBENCH and $MHD_STATIC"
CLIENT=(--connections "$CONNS" --threads "$THREADS" --duration "$SECS" --warmup "$WARM")
SHAPE=(--meetings "$MEETINGS" --participants "$PARTICIPANTS")

machine_info >&2
DISK=$(disk_probe)
say "$DISK"
say "client: ${CLIENT[*]}; meetd --threads $MEETD_THREADS; nginx worker_processes $NGINX_WORKERS"

# 1. The anchor.
start_nginx "$NGINX_WORKERS"
bench nginx-static --url "$NGINX_URL" "${CLIENT[@]}" static
stop_nginx

# 1b. libmicrohttpd alone, set up as meetd's daemon: what the HTTP library
# costs, so that the gap between it and meetd-healthz is meetd's own.
start_mhd_static "$MEETD_THREADS"
bench mhd-static --url "$MHD_STATIC_URL" --pid "$MHD_STATIC_PID" "${CLIENT[@]}" static
stop_mhd_static

# 2. meetd's HTTP path without a signature or a write: GET /healthz (one
# store read), for telling the HTTP layer's cost from the rest.
start_meetd meetd-healthz full --threads "$MEETD_THREADS"
bench meetd-healthz --profile "$MEETD_CREDS" --pid "$MEETD_PID" "${CLIENT[@]}" --path /healthz static
stop_meetd

# 3. meetd, a fresh store for every run so that runs do not feed each other.
for d in $DURABILITY; do
  for s in $SCENARIOS; do
    start_meetd "meetd-$d-$s" "$d" --threads "$MEETD_THREADS"
    bench "$d-$s" --profile "$MEETD_CREDS" --pid "$MEETD_PID" "${CLIENT[@]}" "${SHAPE[@]}" "$s"
    stop_meetd
  done
  # Latency at half of the kickout throughput just measured (open loop: a
  # step is one kick and its re-join). Several runs: on a shared VM one
  # pause of the machine decides a 10 s run's p99 (bench/README.md).
  if [ -f "$RESULTS/$d-kickout.json" ]; then
    max=$(json_get "$RESULTS/$d-kickout.json" ops.kickout.rps)
    half=$(python3 -c "print(max(1.0, float('$max') / 2))")
    for i in $(seq 1 "$HALF_RUNS"); do
      label="$d-kickout-half"
      [ "$i" -gt 1 ] && label="$label-$i"
      # The machine's floor in the same minute: nginx, open loop at the
      # same number of requests a second (a step of meetd's is a kick and a
      # re-join, nginx's one request). This VM's own pauses decide a p99
      # at these rates (bench/README.md), and they come and go by the hour.
      start_nginx "$NGINX_WORKERS"
      bench "nginx-at-$label" --url "$NGINX_URL" "${CLIENT[@]}" \
        --rate "$(python3 -c "print(2 * $half)")" static
      stop_nginx
      start_meetd "meetd-$label" "$d" --threads "$MEETD_THREADS"
      bench "$label" --profile "$MEETD_CREDS" --pid "$MEETD_PID" "${CLIENT[@]}" \
        "${SHAPE[@]}" --rate "$half" kickout
      stop_meetd
    done
  fi
done

# 4. nginx again: this VM's speed drifts within a run (nginx's rate has
# moved by a third between runs an hour apart), so the summary shows how
# far it moved between the first anchor and the last. The targets are
# judged against the first, as before.
start_nginx "$NGINX_WORKERS"
bench nginx-static-end --url "$NGINX_URL" "${CLIENT[@]}" static
stop_nginx

echo
machine_info
echo "$DISK"
echo "client: ${CLIENT[*]} ${SHAPE[*]}; meetd --threads $MEETD_THREADS; nginx worker_processes $NGINX_WORKERS"
echo "req/ng: requests/s over nginx's; op/ng: the scenario's own operation (kickout, join, read) over nginx's"
python3 "$BENCH_ROOT/bench/summary.py" report "$RESULTS"
echo "(results: $BUILD/bench/last/*.json)"
