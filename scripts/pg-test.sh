#!/usr/bin/env bash
# A private PostgreSQL 15 for the tests (and for a person trying the cluster
# mode): started in DIR, reachable only through the Unix socket in DIR,
# gone again at stop.
#
#   scripts/pg-test.sh start DIR   initdb DIR/data, start it, create the
#                                  database `meetd`; prints the libpq
#                                  conninfo and writes it to DIR/conninfo
#   scripts/pg-test.sh stop DIR    stop the server, remove DIR
#   scripts/pg-test.sh conninfo DIR  print the conninfo of DIR
#   scripts/pg-test.sh down DIR    stop the server, keeping its data
#   scripts/pg-test.sh up DIR      start it again (after down or crash)
#   scripts/pg-test.sh crash DIR   stop it as a crash would (immediate: no
#                                  checkpoint, clients cut off); up recovers
#
# CTest runs start and stop as the fixture `postgres` (CMakeLists.txt), so a
# test that declares FIXTURES_REQUIRED postgres finds the server running and
# its conninfo in MEETD_TEST_POSTGRES.
#
# PostgreSQL refuses to run as root. Run as root, the server runs as the
# `postgres` system user the Debian package creates (else `nobody`), which
# owns DIR; its superuser role is named after the user who ran this script,
# so that a client of that user needs no user= in the conninfo. No TCP
# listener (listen_addresses ''), trust authentication on a socket in a
# directory only the server's user and root can enter, and fsync off: a
# test server that loses its data in an OS crash has lost nothing.
#
# MEETD_PG_FSYNC=on keeps fsync and full-page writes on (bench/cluster.sh
# measures durable commits); MEETD_PG_SHARED_BUFFERS sizes shared_buffers.
#
# Never leaks a server: start first stops and removes whatever a run that
# was killed left in DIR, and stop stops the server whatever state it is in
# (fast, then immediate, then the postmaster's pid) before removing DIR.
set -euo pipefail

PG_BIN=${MEETD_PG_BIN:-/usr/lib/postgresql/15/bin}
# The socket's name is .s.PGSQL.<port>; with no TCP listener the port only
# names the file, so every instance can use the same one.
PG_PORT=5432

die() { echo "pg-test: $*" >&2; exit 1; }

usage="usage: $0 start|stop|conninfo|down|up|crash DIR"
[ $# -eq 2 ] || die "$usage"
cmd=$1
dir=$2
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
# sun_path holds 107 bytes: DIR + "/.s.PGSQL.5432" must fit.
[ ${#dir} -le 90 ] || die "DIR is too long for a Unix socket path: $dir"

me=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then runas=postgres; else runas=nobody; fi
    as_server() { runuser -u "$runas" -- "$@"; }
else
    runas=$me
    as_server() { "$@"; }
fi

# No user=: the superuser role is named after whoever runs this, libpq's
# default user, so CMake can write the same conninfo down at configure time.
conninfo() { echo "host=$dir port=$PG_PORT dbname=meetd connect_timeout=10"; }

# Stops the server of DIR/data if one runs, by every means in turn.
stop_server() {
    local data=$dir/data
    [ -d "$data" ] || return 0
    if [ -f "$data/postmaster.pid" ]; then
        as_server "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
            as_server "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
            true
    fi
    # pg_ctl gave up (a damaged data directory): the postmaster's pid is the
    # first line of postmaster.pid; kill it only if it is a postgres.
    if [ -f "$data/postmaster.pid" ]; then
        local pid
        pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
            kill -KILL "$pid" 2>/dev/null || true
            for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
        fi
    fi
}

remove_dir() {
    [ -e "$dir" ] || return 0
    # Only a directory this script made: it holds data/ or conninfo, or is empty.
    if [ -d "$dir/data" ] || [ -f "$dir/conninfo" ] || [ -z "$(ls -A "$dir")" ]; then
        rm -rf "$dir"
    else
        die "$dir exists and is not a pg-test directory; not removing it"
    fi
}

case $cmd in
start)
    [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL 15 in $PG_BIN (run scripts/deps.sh)"
    stop_server
    remove_dir
    mkdir -p "$dir"
    chmod 0700 "$dir"
    [ "$runas" = "$me" ] || chown "$runas" "$dir"
    as_server "$PG_BIN/initdb" -D "$dir/data" -U "$me" --auth=trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # synchronous_commit stays on: the commit-outcome rules are tested as they
    # run in production; fsync off makes that cheap. Small shared memory:
    # test machines run several of these and have a small /dev/shm.
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
fsync = ${MEETD_PG_FSYNC:-off}
full_page_writes = ${MEETD_PG_FSYNC:-off}
shared_buffers = ${MEETD_PG_SHARED_BUFFERS:-32MB}
dynamic_shared_memory_type = mmap
max_connections = 200
log_min_messages = warning
EOF
    if ! as_server "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        >/dev/null; then
        cat "$dir/server.log" >&2 || true
        stop_server
        die "the server did not start"
    fi
    as_server "$PG_BIN/createdb" -h "$dir" -p "$PG_PORT" -U "$me" meetd ||
        { stop_server; die "createdb failed"; }
    conninfo | tee "$dir/conninfo"
    ;;
stop)
    stop_server
    remove_dir
    ;;
conninfo)
    [ -f "$dir/conninfo" ] || die "no server in $dir"
    cat "$dir/conninfo"
    ;;
down)
    # A database going away under its clients (tests of reconnection).
    [ -d "$dir/data" ] || die "no server in $dir"
    as_server "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null
    ;;
crash)
    [ -d "$dir/data" ] || die "no server in $dir"
    as_server "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null
    ;;
up)
    [ -d "$dir/data" ] || die "no server in $dir"
    as_server "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    ;;
*)
    die "$usage"
    ;;
esac
