# Shared by bench/run.sh and bench/scale.sh: starting and stopping meetd and
# nginx on loopback, each in a scratch directory, and running meetbench.
# Sourced; expects BUILD (the build directory) and SCRATCH to be set.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MEETD=${MEETD:-$BUILD/meetd}
MEETBENCH=${MEETBENCH:-$BUILD/bench/meetbench}
MHD_STATIC=${MHD_STATIC:-$BUILD/bench/mhd-static}
RESULTS=$SCRATCH/results
mkdir -p "$RESULTS"
# meetd's access log (one line a request, it cannot be turned off) goes to
# memory when /dev/shm is there: on the store's disk its writeback would
# land in the store's fsyncs (ext4 data=ordered) and add noise to them.
LOGS=$SCRATCH
if [ -z "${BENCH_LOGS:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  LOGS=$(mktemp -d /dev/shm/meetbench-logs.XXXXXX)
elif [ -n "${BENCH_LOGS:-}" ]; then
  LOGS=$BENCH_LOGS
fi

MEETD_PID=
NGINX_PID=

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_meetd NAME DURABILITY [meetd serve flags...]: a fresh data directory
# $SCRATCH/NAME; sets MEETD_PID, MEETD_CREDS and MEETD_URL once meetd listens.
start_meetd() {
  local name=$1 durability=$2; shift 2
  local dir=$SCRATCH/$name log=$LOGS/$name.log
  rm -rf "$dir"; mkdir -p "$dir"
  # What earlier runs left dirty is written out now, not during this one.
  sync
  env -u MEETD_LISTEN -u MEETD_DATA -u MEETD_DURABILITY \
    "$MEETD" serve --listen 127.0.0.1:0 --data "$dir" --durability "$durability" "$@" \
    >"$dir/stdout" 2>"$log" &
  MEETD_PID=$!
  MEETD_LOG=$log
  local i
  for i in $(seq 200); do
    grep -q 'meetd: listening on' "$log" 2>/dev/null && break
    kill -0 "$MEETD_PID" 2>/dev/null || { tail -5 "$log" >&2; die "meetd did not start"; }
    sleep 0.05
  done
  grep -q 'meetd: listening on' "$log" || die "meetd did not listen within 10 s"
  MEETD_CREDS=$dir/credentials
  MEETD_URL=$(sed -n 's/^meetd: listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)
}

stop_meetd() {
  [ -n "$MEETD_PID" ] || return 0
  kill -TERM "$MEETD_PID" 2>/dev/null || true
  wait "$MEETD_PID" 2>/dev/null || true
  MEETD_PID=
  # Only its errors are worth keeping; the access lines are many.
  if [ -f "$MEETD_LOG" ]; then
    grep -v ' info access ' "$MEETD_LOG" >"$SCRATCH/$(basename "$MEETD_LOG")" || true
    rm -f "$MEETD_LOG"
  fi
}

# start_nginx WORKERS: nginx from bench/nginx.conf.in on a free loopback
# port, in the foreground of a background job; sets NGINX_PID, NGINX_URL.
start_nginx() {
  local workers=$1 dir=$SCRATCH/nginx port
  command -v nginx >/dev/null || die "nginx is not installed (MEETD_DEPS_BENCH=1 scripts/deps.sh)"
  port=$(free_port)
  rm -rf "$dir"; mkdir -p "$dir/tmp"
  sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@WORKERS@|$workers|g" \
    "$BENCH_ROOT/bench/nginx.conf.in" >"$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  NGINX_PID=$!
  NGINX_URL=http://127.0.0.1:$port/
  wait_ready nginx "$NGINX_PID" "$dir/error.log" curl -s -o /dev/null "$NGINX_URL"
}

# wait_ready NAME PID LOG CMD...: polls CMD for up to 10 s; dies, showing
# LOG, should PID exit first or CMD never succeed.
wait_ready() {
  local name=$1 pid=$2 log=$3 i
  shift 3
  for i in $(seq 200); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name did not start"; }
    sleep 0.05
  done
  die "$name was not ready within 10 s"
}

stop_nginx() {
  [ -n "$NGINX_PID" ] || return 0
  # SIGQUIT: graceful stop of the master and its workers.
  kill -QUIT "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=
}

# The EXIT trap of run.sh and scale.sh: stop everything, keep the JSON of
# the runs in $BUILD/bench/$1, remove the scratch directory unless
# BENCH_KEEP=1.
finish() {
  stop_all
  mkdir -p "$BUILD/bench/$1"
  rm -f "$BUILD/bench/$1/"*.json
  cp "$RESULTS"/*.json "$BUILD/bench/$1/" 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
}

# start_mhd_static THREADS: bench/mhd_static.c on a free loopback port;
# sets MHD_STATIC_PID, MHD_STATIC_URL.
start_mhd_static() {
  local port out=$SCRATCH/mhd-static.out
  port=$(free_port)
  "$MHD_STATIC" "$port" "$1" >"$out" 2>&1 &
  MHD_STATIC_PID=$!
  MHD_STATIC_URL=http://127.0.0.1:$port/
  wait_ready mhd-static "$MHD_STATIC_PID" "$out" grep -q '^listening' "$out"
}

stop_mhd_static() {
  [ -n "${MHD_STATIC_PID:-}" ] || return 0
  kill -TERM "$MHD_STATIC_PID" 2>/dev/null || true
  wait "$MHD_STATIC_PID" 2>/dev/null || true
  MHD_STATIC_PID=
}

stop_all() {
  stop_meetd
  stop_mhd_static
  stop_nginx
  [ "$LOGS" = "$SCRATCH" ] || rm -rf "$LOGS"
}

# bench LABEL meetbench-args...: runs meetbench with --json into
# $RESULTS/LABEL.json and shows its table line by line on stderr. Exit
# status 3 (errors counted) is reported, not fatal.
bench() {
  local label=$1; shift
  say "$label: meetbench $*"
  local rc=0
  "$MEETBENCH" --json "$@" >"$RESULTS/$label.json" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    rm -f "$RESULTS/$label.json"
    say "$label: meetbench failed (exit $rc)"
    return 0
  fi
  python3 "$BENCH_ROOT/bench/summary.py" line "$label" "$RESULTS/$label.json" >&2
}

# json_get FILE EXPR: a value of a result, e.g. json_get f.json 'ops.kickout.rps'
json_get() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k, {}) if isinstance(v, dict) else {}
print(v if not isinstance(v, dict) else "")
EOF
}

machine_info() {
  local cpu disk
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  disk=$(df -P "$SCRATCH" | awk 'NR == 2 {print $1}')
  printf 'machine: %s CPUs (%s), %s MiB RAM, kernel %s, scratch on %s\n' \
    "$(nproc)" "$cpu" "$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" \
    "$(uname -r)" "$disk"
}

# disk_probe: the scratch disk's own fdatasync latency (4 KiB overwrites,
# like a WAL commit's sync): the floor under meetd's durability full.
disk_probe() {
  python3 - "$SCRATCH" <<'EOF2'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
lat = []
for i in range(1000):
    os.pwrite(fd, b"x" * 4096, (i % 256) * 4096)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1000)
os.close(fd)
os.unlink(path)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("disk: fdatasync of 4 KiB, 1000 times: p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f ms"
      % (q(.5), q(.9), q(.99), q(.999), lat[-1]))
EOF2
}
