# A throwaway PostgreSQL server for tests and benchmarks. Source this file:
#
#   pg_start   # starts it, exports TILL_TEST_POSTGRES_URL (database till_test)
#   pg_stop    # stops it and deletes its files; safe to call twice, or when
#              # pg_start failed half-way; call it from an EXIT trap
#
# The server lives in a mktemp directory, listens on a free port on 127.0.0.1
# only, trusts every local connection as superuser "postgres" (the Go test
# helpers CREATE DATABASE per test) and runs with fsync off: fast, and nothing
# outside the temp directory is touched. Needs the Debian postgresql package.
# PG_OPTS, if set, adds server options (bench-http's PGSTAT=1 loads
# pg_stat_statements with it); unset, the server is as described.

PG_DIR="" PG_PORT="" PG_BIN=""

# initdb and pg_ctl refuse to run as root, so root runs them as "postgres";
# anyone else runs them as themselves (they own the temp directory).
_pg_as_owner() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# _pg_port_busy PORT: whether something already listens on PORT.
_pg_port_busy() {
  if command -v ss >/dev/null; then
    [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]
  else
    # No iproute2: a successful TCP connect means the port is taken.
    (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

pg_start() {
  local initdb port tries=0
  # The newest installed server version.
  initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)
  if [[ -z $initdb ]]; then
    echo "pg_start: no PostgreSQL server found (apt-get install postgresql)" >&2
    return 1
  fi
  PG_BIN=${initdb%/initdb}

  if ((EUID == 0)); then
    # /tmp, not $TMPDIR: the postgres user must be able to reach the directory.
    PG_DIR=$(mktemp -d /tmp/till-pg.XXXXXX) || return
    chown postgres:postgres "$PG_DIR" || return
  else
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/till-pg.XXXXXX") || return
  fi

  if ! _pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    return 1
  fi

  # A random base keeps parallel runs on one machine apart; walk up past busy
  # ports. Another process can still grab the port between the check and the
  # bind, so a failed start moves on to the next port a few times.
  port=$((20000 + RANDOM % 30000))
  while :; do
    while _pg_port_busy "$port"; do port=$((port + 1)); done
    if _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 -s \
      -o "-p $port -k '$PG_DIR' -c listen_addresses=127.0.0.1 -c max_connections=300 \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off ${PG_OPTS:-}" start; then
      break
    fi
    if ((++tries >= 5)); then
      echo "pg_start: the server did not start; its log:" >&2
      cat "$PG_DIR/server.log" >&2
      return 1
    fi
    echo "pg_start: could not start on port $port (taken meanwhile?), trying the next one" >&2
    port=$((port + 1))
  done
  PG_PORT=$port

  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c 'CREATE DATABASE till_test' || return
  export TILL_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/till_test?sslmode=disable"
  echo "postgres $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (files in $PG_DIR)"
  echo "TILL_TEST_POSTGRES_URL=$TILL_TEST_POSTGRES_URL"
}

pg_stop() {
  [[ -n $PG_DIR ]] || return 0
  if [[ -f $PG_DIR/data/postmaster.pid ]]; then
    # fast = disconnect clients and shut down cleanly; immediate if that hangs.
    _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 -s stop ||
      _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 30 -s stop ||
      echo "pg_stop: could not stop the server in $PG_DIR" >&2
  fi
  rm -rf "$PG_DIR"
  echo "postgres stopped, $PG_DIR removed"
  PG_DIR="" PG_PORT=""
}
