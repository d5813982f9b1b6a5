#!/usr/bin/env bash
# Instructions a request, independent of the machine's load: each server
# under callgrind, driven by meetbench for N1 and then (a fresh server, the
# same setup and seed) N2 measured requests; the difference of the two
# totals over N2 - N1 is one request's user-space instructions, setup and
# start-up cancelling out. Also the voluntary context switches of the
# server's threads a request (without valgrind, same difference), which
# count its thread hand-offs and waits.
#
#   bench/profile.sh [BUILD_DIR] [KIND...]     KIND: mhd healthz kickout participants join-churn
#
# Environment: PROFILE_N1 (300), PROFILE_N2 (1300), PROFILE_DURABILITY
# (normal: the instructions do not depend on it, the syncs' waits would
# only slow the runs), PROFILE_KEEP=DIR keeps the callgrind files there
# (callgrind_annotate DIR/KIND-N2.out shows where they go).
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
shift || true
KINDS=${*:-mhd healthz kickout participants}
N1=${PROFILE_N1:-300}
N2=${PROFILE_N2:-1300}
DUR=${PROFILE_DURABILITY:-normal}
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/meetprofile.XXXXXX")
. "$(dirname "$0")/lib.sh"
trap 'stop_all; rm -rf "$SCRATCH"' EXIT

CLIENT=(--connections 4 --threads 1 --warmup 0 --duration 600)
SHAPE=(--meetings 2 --participants 40)
VALGRIND=(valgrind --tool=callgrind --quiet)

# run KIND N TOOL: starts the server for KIND (TOOL: callgrind or plain),
# sends N measured requests, stops it; prints "instructions ctxsw".
run() {
  local kind=$1 n=$2 tool=$3 out=$SCRATCH/$1-$2.out pid args=() saved
  saved=$MEETD
  [ "$tool" = callgrind ] && MEETD_WRAP=("${VALGRIND[@]}" --callgrind-out-file="$out") || MEETD_WRAP=()
  case $kind in
    mhd)
      local port; port=$(free_port)
      "${MEETD_WRAP[@]}" "$MHD_STATIC" "$port" 2 >"$SCRATCH/mhd.log" 2>&1 &
      pid=$!
      wait_ready mhd-static "$pid" "$SCRATCH/mhd.log" curl -s -o /dev/null "http://127.0.0.1:$port/"
      args=(--url "http://127.0.0.1:$port/" static) ;;
    *)
      MEETD_WRAPPED "$kind-$n"
      pid=$MEETD_PID
      case $kind in
        healthz) args=(--profile "$MEETD_CREDS" --path /healthz static) ;;
        *) args=(--profile "$MEETD_CREDS" "${SHAPE[@]}" "$kind") ;;
      esac ;;
  esac
  "$MEETBENCH" --json "${CLIENT[@]}" --requests "$n" "${args[@]}" >"$SCRATCH/$kind-$n.json"
  local cs=0 f
  for f in /proc/"$pid"/task/*/status; do
    cs=$((cs + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$f" 2>/dev/null || echo 0)))
  done
  # A server that does not stop in 60 s (one spinning under valgrind does
  # not see its SIGTERM) is killed, and the kind reported as failed.
  kill -TERM "$pid"
  local i
  for i in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    echo "profile: $kind did not stop within 60 s after SIGTERM: killed" >&2
    exit 1
  fi
  wait "$pid" 2>/dev/null || true
  MEETD_PID=
  local ir=0
  [ "$tool" = callgrind ] && ir=$(awk '/^summary:/ {print $2}' "$out")
  echo "$ir $cs"
}

# meetd under the wrapper (callgrind or nothing), as lib.sh's start_meetd.
MEETD_WRAPPED() {
  local dir=$SCRATCH/$1 i
  rm -rf "$dir"; mkdir -p "$dir"
  env -u MEETD_LISTEN -u MEETD_DATA -u MEETD_DURABILITY "${MEETD_WRAP[@]}" \
    "$MEETD" serve --listen 127.0.0.1:0 --data "$dir" --durability "$DUR" --threads 2 \
    >"$dir/stdout" 2>"$dir/log" &
  MEETD_PID=$!
  for i in $(seq 600); do
    grep -q 'meetd: listening on' "$dir/log" 2>/dev/null && break
    sleep 0.05
  done
  MEETD_CREDS=$dir/credentials
}

printf '%-14s %12s %10s\n' "request" "instr/req" "ctxsw/req"
for k in $KINDS; do
  read -r a _ < <(run "$k" "$N1" callgrind)
  read -r b _ < <(run "$k" "$N2" callgrind)
  read -r _ c < <(run "$k" "$N1" plain)
  read -r _ d < <(run "$k" "$N2" plain)
  printf '%-14s %12.0f %10.2f\n' "$k" "$(echo "($b - $a) / ($N2 - $N1)" | bc -l)" \
    "$(echo "($d - $c) / ($N2 - $N1)" | bc -l)"
  if [ -n "${PROFILE_KEEP:-}" ]; then
    mkdir -p "$PROFILE_KEEP"; cp "$SCRATCH/$k-$N1.out" "$SCRATCH/$k-$N2.out" "$PROFILE_KEEP/"
  fi
done
