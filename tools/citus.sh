#!/usr/bin/env bash
# A real Citus cluster for tests and benchmarks: a coordinator and 2 workers on private Unix sockets.
#
#   tools/citus.sh build              build Citus 13.2.2 once (cached), print the cached tree
#   tools/citus.sh start DIR          start the cluster under DIR; last line of stdout: a libpq
#                                     connection string for the coordinator's database "postgres"
#   tools/citus.sh createdb DIR NAME  a new database with Citus on every node; prints its conninfo
#   tools/citus.sh stop DIR           stop the cluster (the files under DIR stay)
#
# Citus is built from ../shared/vendor/citus/ (or $PGTRACK_CITUS_VENDOR) with its PostgreSQL 15.20 patch
# into a private copy of /usr/lib/postgresql/15 and /usr/share/postgresql/15 (PostgreSQL finds its
# lib and share directories relative to its binaries), cached in /var/cache/pgtrack-ci (root) or
# ~/.cache/pgtrack-ci (PGTRACK_CI_CACHE overrides), keyed by the source, the patch and the server
# version. Each start takes its own copy of that tree under DIR and installs this checkout's pgtrack
# and pgTAP into it, so nothing touches the system installation or the system cluster.
# The servers run as an unprivileged user (postgres when we are root) and listen only on a 0700 socket
# directory, DIR/sock; nodes reach each other through it (trust authentication inside it). As root,
# when the postgres user cannot reach DIR (under a 0700 directory), the servers live in a directory
# of ours under /tmp instead, named in DIR/base (and the connection string).
set -euo pipefail
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG15=/usr/lib/postgresql/15
# The vendored source: $PGTRACK_CITUS_VENDOR, else ../shared/vendor/citus beside the project's main
# checkout (/work/main), else the same from the directory above a clone (/work/shared).
VENDOR=${PGTRACK_CITUS_VENDOR:-}
if [ -z "$VENDOR" ]; then
    for candidate in "$ROOT_DIR/../shared/vendor/citus" /work/shared/vendor/citus; do
        if ls "$candidate"/citus-*.tar.gz >/dev/null 2>&1; then VENDOR=$candidate; break; fi
    done
fi
BUILD_DEPS="postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev make gcc patch"
WORKERS=2

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'citus.sh: %s\n' "$*" >&2; exit 1; }

cache_base() {
    if [ "$(id -u)" -eq 0 ]; then echo "${PGTRACK_CI_CACHE:-/var/cache/pgtrack-ci}"
    else echo "${PGTRACK_CI_CACHE:-$HOME/.cache/pgtrack-ci}"; fi
}

missing_build_deps() {
    local p out=()
    for p in $BUILD_DEPS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
    done
    echo "${out[@]:-}"
}

# The cached tree for this source + patch + server; built on first use (about 4 minutes on 2 cores).
build() {
    local tarball patchfile key tree work missing
    tarball=$(ls "$VENDOR"/citus-*.tar.gz 2>/dev/null | head -1) || true
    patchfile=$(ls "$VENDOR"/citus-*.patch 2>/dev/null | head -1) || true
    [ -f "$tarball" ] || die "no Citus source found (citus-*.tar.gz in ../shared/vendor/citus or /work/shared/vendor/citus); set PGTRACK_CITUS_VENDOR"
    # keyed by what goes in (file contents, not paths: every clone shares the build)
    key=$( { cat "$tarball" ${patchfile:+"$patchfile"}; "$PG15/bin/postgres" --version; } | sha256sum | cut -c1-12)
    tree="$(cache_base)/citus-$key"
    if [ -f "$tree/.ready" ]; then echo "$tree"; return 0; fi
    mkdir -p "$(cache_base)" 2>/dev/null && [ -w "$(cache_base)" ] \
        || die "cannot write the build cache $(cache_base); set PGTRACK_CI_CACHE to a writable directory"
    missing=$(missing_build_deps)
    if [ -n "$missing" ]; then
        [ "$(id -u)" -eq 0 ] || die "missing Debian packages to build Citus; run as root: apt-get install -y $missing"
        log "installing Citus build dependencies: $missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    log "building Citus from $(basename "$tarball") into $tree (once, about 4 minutes)"
    mkdir -p "$(cache_base)"
    rm -rf "$tree" "$tree.tmp" && mkdir -p "$tree.tmp/usr/lib/postgresql" "$tree.tmp/usr/share/postgresql"
    cp -a "$PG15" "$tree.tmp/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$tree.tmp/usr/share/postgresql/"
    work=$(mktemp -d)
    tar -xzf "$tarball" -C "$work"
    (
        cd "$work"/citus-*/
        [ -z "$patchfile" ] || patch -s -p1 < "$patchfile"
        ./configure -q PG_CONFIG="$PG15/bin/pg_config" --without-libcurl >/dev/null
        make -s -j"$(nproc)" >/dev/null 2>"$work/build.log" || { tail -30 "$work/build.log" >&2; exit 1; }
        make -s install DESTDIR="$tree.tmp" >/dev/null
    )
    rm -rf "$work"
    chmod -R a+rX "$tree.tmp"
    touch "$tree.tmp/.ready"
    mv "$tree.tmp" "$tree"
    echo "$tree"
}

# run_as CMD...: as the servers' user
run_as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
    local dir=$1 tree bin port ports=() i node conninfo
    [ -n "$dir" ] || die "usage: citus.sh start DIR"
    tree=$(build)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/nodes" ] || die "$dir already holds a cluster (tools/citus.sh stop $dir, then remove it)"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    fi
    # Where the servers live: DIR itself, or (as root, when the postgres user cannot reach DIR, e.g.
    # under a 0700 mktemp -d) a directory of ours under /tmp that DIR/base names; stop removes it.
    local base=$dir
    if [ "$(id -u)" -eq 0 ]; then
        chmod 755 "$dir"
        if ! runuser -u postgres -- test -x "$dir"; then
            base=$(mktemp -d /tmp/pgtrack-citus-nodes.XXXXXX) && chmod 755 "$base"
        fi
    fi
    echo "$base" > "$dir/base"
    # This start's own PostgreSQL tree: hard links to the cache where possible, a real copy of the
    # extension directory, which receives this checkout's pgtrack.
    mkdir -p "$base/pg"
    cp -al "$tree/usr" "$base/pg/" 2>/dev/null || cp -a "$tree/usr" "$base/pg/"
    local ext="$base/pg/usr/share/postgresql/15/extension"
    rm -rf "$ext" && cp -a "$tree/usr/share/postgresql/15/extension" "$ext"
    [ -f "$ROOT_DIR/extension/pgtrack--$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT_DIR/extension/pgtrack.control").sql" ] \
        || python3 "$ROOT_DIR/tools/extension_build.py" "$ROOT_DIR/extension" >/dev/null
    cp "$ROOT_DIR"/extension/pgtrack.control "$ROOT_DIR"/extension/pgtrack--*.sql "$ext/"
    cp /usr/share/postgresql/15/extension/pgtap* "$ext/" 2>/dev/null || true
    bin="$base/pg/usr/lib/postgresql/15/bin"
    mkdir -p "$base/sock" && chmod 700 "$base/sock"
    [ "$(id -u)" -ne 0 ] || chown -R postgres "$base/sock"
    for i in $(seq 0 $WORKERS); do
        node=$([ "$i" -eq 0 ] && echo coordinator || echo "worker$i")
        port=$(( 20000 + RANDOM % 20000 ))
        mkdir -p "$base/$node" && chmod 700 "$base/$node"
        [ "$(id -u)" -ne 0 ] || chown postgres "$base/$node"
        run_as "$bin/initdb" -D "$base/$node/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
        cat >> "$base/$node/data/postgresql.conf" <<EOF
shared_preload_libraries = 'citus'
listen_addresses = ''
unix_socket_directories = '$base/sock'
unix_socket_permissions = 0700
port = $port
max_connections = 200
max_worker_processes = 64
max_locks_per_transaction = 256
max_prepared_transactions = 100
log_min_messages = warning
citus.enable_statistics_collection = off
EOF
        [ "${CLUSTER_DURABLE:-0}" = 1 ] || echo "fsync = off" >> "$base/$node/data/postgresql.conf"
        run_as "$bin/pg_ctl" -D "$base/$node/data" -l "$base/$node/server.log" -w -t 60 start >/dev/null \
            || { tail -20 "$base/$node/server.log" >&2; die "$node did not start"; }
        ports+=("$port")
        echo "$node $port" >> "$dir/nodes"
    done
    echo "$bin" > "$dir/bin"
    add_citus "$dir" postgres >/dev/null
    conninfo "$dir" postgres
}

base_of() { cat "$1/base"; }
conninfo() { echo "host=$(base_of "$1")/sock port=$(awk '$1=="coordinator"{print $2}' "$1/nodes") user=postgres dbname=$2"; }

# psql on node NAME of cluster DIR
node_psql() {
    local dir=$1 node=$2; shift 2
    PGOPTIONS="-c client_min_messages=warning" "$(cat "$dir/bin")/psql" -X -q -v ON_ERROR_STOP=1 -h "$(base_of "$dir")/sock" -p "$(awk -v n="$node" '$1==n{print $2}' "$dir/nodes")" -U postgres "$@"
}

# CREATE EXTENSION citus in database DB on every node and register the workers on the coordinator.
add_citus() {
    local dir=$1 db=$2 node port
    while read -r node port; do
        node_psql "$dir" "$node" -d "$db" -c "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
    done < "$dir/nodes"
    node_psql "$dir" coordinator -d "$db" -c "SELECT citus_set_coordinator_host('$(base_of "$dir")/sock', $(awk '$1=="coordinator"{print $2}' "$dir/nodes"))" >/dev/null
    while read -r node port; do
        [ "$node" = coordinator ] || node_psql "$dir" coordinator -d "$db" -c "SELECT citus_add_node('$(base_of "$dir")/sock', $port)" >/dev/null
    done < "$dir/nodes"
}

createdb() {
    local dir=$1 db=$2 node port
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name must be a lower-case identifier: $db"
    while read -r node port; do
        node_psql "$dir" "$node" -d postgres -c "CREATE DATABASE $db" >/dev/null
    done < "$dir/nodes"
    add_citus "$dir" "$db"
    conninfo "$dir" "$db"
}

stop() {
    local dir=$1 node port
    [ -f "$dir/nodes" ] || die "no cluster under $dir"
    while read -r node port; do
        run_as "$(cat "$dir/bin")/pg_ctl" -D "$(base_of "$dir")/$node/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    done < "$dir/nodes"
    [ "$(base_of "$dir")" = "$dir" ] || rm -rf "$(base_of "$dir")"  # ours, under /tmp
}

case "${1:-}" in
    build) build ;;
    start) start "${2:-}" ;;
    createdb) [ $# -eq 3 ] || die "usage: citus.sh createdb DIR NAME"; createdb "$2" "$3" ;;
    stop) [ $# -eq 2 ] || die "usage: citus.sh stop DIR"; stop "$2" ;;
    *) die "usage: citus.sh build | start DIR | createdb DIR NAME | stop DIR" ;;
esac
