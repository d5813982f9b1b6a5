#!/usr/bin/env bash
# `make cluster`: a PostgreSQL and two meetd nodes sharing it, for a person to
# try the cluster mode (docs/cluster.md). Runs in the foreground; Ctrl-C (or
# SIGTERM) stops both nodes and the PostgreSQL, and removes the PostgreSQL.
#
#   scripts/cluster.sh [DIR]     DIR (default ./var-cluster) holds node1/ and
#                                node2/, each node's data directory
#
# The nodes listen on MEETD_CLUSTER_LISTEN1 and MEETD_CLUSTER_LISTEN2
# (default 127.0.0.1:8081 and 127.0.0.1:8082; port 0: any free port, printed
# by each node). The PostgreSQL is scripts/pg-test.sh's (a Unix socket only,
# fsync off: for trying, not for data you keep), in a directory under /tmp
# named after DIR, so that a run killed outright is cleaned up by the next.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-./var-cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
meetd=${MEETD_BIN:-$here/../build/meetd}
listen1=${MEETD_CLUSTER_LISTEN1:-127.0.0.1:8081}
listen2=${MEETD_CLUSTER_LISTEN2:-127.0.0.1:8082}
[ -x "$meetd" ] || { echo "cluster: no meetd at $meetd (make build)" >&2; exit 1; }
pgdir=/tmp/meetd-cluster-$(printf %s "$dir" | md5sum | cut -c1-12)

pids=()
stop_all() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$here/pg-test.sh" stop "$pgdir" || true
}
trap stop_all EXIT
trap 'exit 0' INT TERM

conninfo=$("$here/pg-test.sh" start "$pgdir")
"$meetd" serve --listen "$listen1" --data "$dir/node1" --postgres "$conninfo" &
pids+=($!)
"$meetd" serve --listen "$listen2" --data "$dir/node2" --postgres "$conninfo" &
pids+=($!)
echo "cluster: two nodes on one PostgreSQL ($pgdir); each node's credentials are in" \
     "$dir/node1/credentials and $dir/node2/credentials. Ctrl-C stops them all." >&2
# Either node ending ends the trial: the other and the PostgreSQL stop too.
wait -n "${pids[@]}" || true
