#!/usr/bin/env bash
# `make bench-http`: Till measured from outside the process, beside its
# ceilings, on SQLite and Postgres (issue 12).
#
# Builds bin/till, bin/kaspa-double, bin/evm-double and bin/till-bench, then
# starts as separate processes, each on its own loopback port: the Kaspa REST
# double, the EVM double (USDC on a local chain), the bare Fiber JSON handler
# (till-bench ceiling-http) and, per database, `till serve`. The load
# generator (till-bench suite, another process) sets Till up through its API,
# then runs every workload RUNS times: the HTTP ceiling, the single-row insert
# ceiling (same driver and settings as Till, 8 and 32 at once), the
# session-row insert ceiling (the same loop writing Till's own rows into a
# fresh database migrated with Till's own migrations, beside INSERT_DB,
# holding as many past sessions as Till's: ROWS), the same with payments'
# secondary indexes dropped, and the same rows committed in batches as
# Till's writer commits sessions (SQLite: one writer, up to 64 a
# transaction; Postgres: pgx batches, 2 in flight) — each insert ceiling
# plain and prepared, the faster being the ceiling — the HTTP +
# session-row ceiling (another till-bench ceiling-http, with -insert-db:
# Till's create body over real HTTP, its session row inserted prepared or
# batched into a fresh database of its own beside INSERT_DB, the faster
# being the ceiling; 8 and 32 at once), status polls at 32
# connections and session creation at 8 and 32, and prints each figure with
# its ratio to its ceiling of the same run (session creation also to the
# session-row, batched session-row and HTTP + session-row ceilings), the
# CPU per request of the process doing the work (till serve, the bare
# handler or the HTTP + session-row one, or the generator itself for the
# insert ceilings) and the load average. Beside it, each
# workload's CPU budget per request: the database server's (Postgres: the
# postmaster and its children, from /proc; SQLite is inside Till), the
# generator's own (getrusage), the whole machine's busy time and its idle
# share (/proc/stat); and per session workload a "CPU budget per session"
# line: Till + DB + generator µs, and what the cores ÷ that sum would allow
# beside the measured rate.
#
# Two more stages, each on a fresh database per size (the set-up goes
# through Till's API, then till serve stops while till-bench prefill writes
# rows into its database directly — then VACUUM ANALYZE on Postgres, a WAL
# checkpoint on SQLite — and starts again):
#   ROWS="0 1M": the suite once per size, on a database holding that many
#     past sessions (a year of history, 70 % confirmed, 30 % expired, on
#     the suite's address: BenchmarkPayments' prefill); the report then
#     compares session creation across sizes.
#   OPEN="100 100000": the watcher stage once per size, that many open
#     sessions (a third each Kaspa single-address, Kaspa kpub, USDC on one
#     receiver, copied from real ones); till-bench watch reads cycle time
#     and chain calls per cycle from Till's metrics listener (the doubles'
#     counters as a cross-check), VmRSS/VmHWM from /proc, and pays PAY
#     sessions of each kind a round, timing each until the database says
#     it is no longer pending; RUNS rounds on the same server.
#
# Knobs (environment or make variables):
#   DURATION=5s   per workload (plus a 500 ms warm-up)
#   RUNS=3        runs per database; the table gives median and min–max
#   DBS="sqlite postgres"
#   ROWS="0"      past sessions per database size (e.g. "0 1M"; k and M allowed;
#                 "" skips the stage, ceilings included)
#   OPEN="100 1000"  open sessions per watcher-stage size ("" skips the stage;
#                 "100 100000" for issue 12's range, a few minutes more)
#   CYCLES=3 PAY=5  watcher cycles per round; payments of each kind per round
#   POLL=2s       both watchers' poll interval (TILL_POLL_INTERVAL and the EVM one)
#   RESULTS_OUT=FILE  also keep the JSON records (till-bench report FILE
#                 prints the cross-size tables again, e.g. over two invocations)
#   WORKLOADS=regexp  only the workloads whose name matches (ceilings always run)
#   ROW_CEILING=1 the HTTP + session-row ceiling (0: not started nor measured)
#   TILL_ENV="K=V …"  extra environment for till serve (e.g. TILL_LOG_LEVEL=warn)
#   XFF=0         sessions without X-Forwarded-For, all from 127.0.0.1 (then
#                 raise the limit: TILL_ENV=TILL_SESSION_RATE_LIMIT=1000000)
#   PROFILE=1     Till also serves pprof on its metrics listener (TILL_PPROF);
#                 run 1 takes CPU and allocation profiles of the status and
#                 session workloads, kept with a top-10 summary in the printed
#                 temp directory (never in the repository). The metrics
#                 middleware is then on: compare figures without PROFILE.
#   PGSTAT=1      the bench's Postgres loads pg_stat_statements (CI's does
#                 not); the suite prints each workload's top statements by
#                 total execution time (run 1: calls, mean µs, µs per
#                 request), Till's database and the ceilings' side by side.
#                 Its bookkeeping costs the server some CPU: compare the
#                 budget columns without PGSTAT.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
source .ci/pg.sh

DURATION=${DURATION:-5s}
RUNS=${RUNS:-3}
DBS=${DBS:-sqlite postgres}
PROFILE=${PROFILE:-0}
PGSTAT=${PGSTAT:-0}
WORKLOADS=${WORKLOADS:-}
ROW_CEILING=${ROW_CEILING:-1}
XFF=${XFF:-1}
ROWS=${ROWS-0}
OPEN=${OPEN-100 1000}
CYCLES=${CYCLES:-3}
PAY=${PAY:-5}
POLL=${POLL:-2s}
read -r -a TILL_ENV_EXTRA <<<"${TILL_ENV:-}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/till-bench-http.XXXXXX")
PIDS=()

finish() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pg_stop >/dev/null
  if [[ $PROFILE == 1 || $rc != 0 ]]; then
    echo "==> logs and profiles kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: a loopback port nothing listens on (pg.sh's check).
free_port() {
  # Below the kernel's ephemeral range: a port there can be taken at any
  # moment as the local end of an outgoing connection (the pools' many
  # connections to Postgres), and a server's bind then fails.
  local low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((low > 21000)) || low=32768
  local port=$((20000 + RANDOM % (low - 20000)))
  while _pg_port_busy "$port"; do port=$((port + 1)); done
  echo "$port"
}

# wait_http URL NAME LOG SECONDS PID: until URL answers 2xx (within
# SECONDS), or fail showing LOG — at once if process PID has ended (a
# server that could not bind, say).
wait_http() {
  local deadline=$(($(now_ms) + $4 * 1000))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if ! kill -0 "$5" 2>/dev/null; then
      echo "$2 exited before it answered; its log:" >&2
      tail -n 40 "$3" >&2
      return 1
    fi
    if (($(now_ms) > deadline)); then
      echo "$2 did not start; its log:" >&2
      tail -n 40 "$3" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start NAME CMD...: run CMD in the background, logging to $WORK/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# stop_pid PID: stop a process start began, and forget it.
stop_pid() {
  local kept=() pid
  kill "$1"
  wait "$1" || true
  for pid in "${PIDS[@]}"; do
    [[ $pid == "$1" ]] || kept+=("$pid")
  done
  PIDS=("${kept[@]}")
}

echo "==> build"
make -s build
CGO_ENABLED=0 go build -ldflags "-s -w" -o bin/till-bench ./cmd/till-bench
echo "machine: $(nproc) CPUs, $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

KASPA_PORT=$(free_port)
start kaspa-double bin/kaspa-double -addr "127.0.0.1:$KASPA_PORT"
KASPA_PID=${PIDS[-1]}
EVM_PORT=$(free_port)
start evm-double bin/evm-double -addr "127.0.0.1:$EVM_PORT" -block-time 1s
EVM_PID=${PIDS[-1]}
CEIL_PORT=$(free_port)
start ceiling-http bin/till-bench ceiling-http -addr "127.0.0.1:$CEIL_PORT"
CEIL_PID=${PIDS[-1]}
wait_http "http://127.0.0.1:$KASPA_PORT/_double" kaspa-double "$WORK/kaspa-double.log" 60 "$KASPA_PID"
wait_http "http://127.0.0.1:$EVM_PORT/_double" evm-double "$WORK/evm-double.log" 60 "$EVM_PID"
wait_http "http://127.0.0.1:$CEIL_PORT/status/x" ceiling-http "$WORK/ceiling-http.log" 60 "$CEIL_PID"
USDC=$(curl -fsS "http://127.0.0.1:$EVM_PORT/_double" | sed -n 's/.*"usdc":"\(0x[0-9a-fA-F]*\)".*/\1/p')

REPORT=$WORK/report.md
RESULTS=$WORK/results.jsonl
TILL_PID=""

# new_db STAGE: a fresh database for one stage: DB_URL (Till's), INSERT_DB
# (the insert ceiling's), DATA_DIR and STATE (the suite's set-up).
new_db() {
  DATA_DIR=$WORK/$db/$1
  STATE=$DATA_DIR/state.json
  mkdir -p "$DATA_DIR"
  case $db in
    sqlite)
      DB_URL="sqlite://$DATA_DIR/till.db"
      INSERT_DB="sqlite://$DATA_DIR/ceiling.db"
      ;;
    postgres)
      local name=${1//[^a-zA-Z0-9]/_}
      name=${name,,}
      "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE till_$name" -c "CREATE DATABASE ceiling_$name"
      DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/till_$name?sslmode=disable"
      INSERT_DB="postgres://postgres@127.0.0.1:$PG_PORT/ceiling_$name?sslmode=disable"
      ;;
  esac
}

# start_till [metrics]: till serve on DB_URL (TILL_PORT, TILL_PID); with
# "metrics" or PROFILE=1 also its metrics listener (METRICS_PORT).
start_till() {
  TILL_PORT=$(free_port)
  local env_extra=("${TILL_ENV_EXTRA[@]}")
  if [[ ${1:-} == metrics || $PROFILE == 1 ]]; then
    METRICS_PORT=$(free_port)
    while [[ $METRICS_PORT == "$TILL_PORT" ]]; do METRICS_PORT=$(free_port); done
    env_extra+=(TILL_METRICS_ADDR="127.0.0.1:$METRICS_PORT")
    [[ $PROFILE != 1 ]] || env_extra+=(TILL_PPROF=true)
  fi
  # The generator plays many customers from 127.0.0.1; as a trusted proxy it
  # names them in X-Forwarded-For, so the per-IP limits (default 60/min)
  # apply per customer, as they would live.
  start "till-$db" env TILL_ADDR="127.0.0.1:$TILL_PORT" TILL_BASE_URL="http://127.0.0.1:$TILL_PORT" \
    TILL_DATABASE_URL="$DB_URL" TILL_DATA_DIR="$DATA_DIR" TILL_SECRET=till-bench-secret-0123456789abcdef0123 \
    TILL_KASPA_API_URL="http://127.0.0.1:$KASPA_PORT" TILL_PRICE_API_URL="http://127.0.0.1:$KASPA_PORT/coingecko" \
    TILL_TRUSTED_PROXIES=127.0.0.1 TILL_POLL_INTERVAL="$POLL" \
    TILL_EVM_CHAINS=local TILL_EVM_LOCAL_RPC_URL="http://127.0.0.1:$EVM_PORT" TILL_EVM_LOCAL_CHAIN_ID=1337 \
    TILL_EVM_LOCAL_USDC="$USDC" TILL_EVM_LOCAL_CONFIRMATIONS=3 TILL_EVM_LOCAL_MAX_RANGE=1000 \
    TILL_EVM_LOCAL_POLL_INTERVAL="$POLL" "${env_extra[@]}" bin/till serve
  TILL_PID=${PIDS[-1]}
  wait_http "http://127.0.0.1:$TILL_PORT/readyz" "till serve ($db)" "$WORK/till-$db.log" 60 "$TILL_PID"
}

stop_till() {
  stop_pid "$TILL_PID"
}

# start_row_ceiling ROWS: the HTTP + session-row ceiling, till-bench
# ceiling-http -insert-db INSERT_DB, which makes its own database beside
# that one afresh (sqlite: ceiling-httprow.db; Postgres: ceiling_…_httprow)
# holding ROWS past sessions as the suite's session-row ceilings do
# (ROW_PORT, ROW_PID). It starts once till serve listens, so their ports
# cannot meet, and may take minutes to fill at ROWS=1M.
start_row_ceiling() {
  ROW_PORT=$(free_port)
  start "ceiling-httprow-$db-$1" bin/till-bench ceiling-http -addr "127.0.0.1:$ROW_PORT" -insert-db "$INSERT_DB" -rows "$1"
  ROW_PID=${PIDS[-1]}
  wait_http "http://127.0.0.1:$ROW_PORT/status/x" "ceiling-http -insert-db ($db)" "$WORK/ceiling-httprow-$db-$1.log" 1800 "$ROW_PID"
}

# prefilled ARGS…: set Till up through its API, stop it, write rows into its
# database (till-bench prefill ARGS…), start it again.
prefilled() {
  local t0
  t0=$(now_ms)
  bin/till-bench suite -till "http://127.0.0.1:$TILL_PORT" -setup-only -state "$STATE"
  stop_till
  bin/till-bench prefill -db "$DB_URL" -state "$STATE" "$@"
  start_till "${START_MODE:-}"
  echo "==> $db: set-up and prefill ($*) took $((($(now_ms) - t0) / 1000)) s"
}

for db in $DBS; do
  case $db in
    sqlite) ;;
    postgres)
      PG_OPTS=""
      [[ $PGSTAT != 1 ]] || PG_OPTS="-c shared_preload_libraries=pg_stat_statements"
      pg_start >/dev/null
      [[ $PGSTAT != 1 ]] || "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
        -c 'CREATE EXTENSION pg_stat_statements'
      ;;
    *)
      echo "DBS: unknown database $db (sqlite or postgres)" >&2
      exit 2
      ;;
  esac
  # The server's main process: the suite reads its and its children's CPU.
  DB_PID=0
  [[ $db != postgres ]] || DB_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
  for rows in $ROWS; do
    t0=$(now_ms)
    new_db "rows-$rows"
    START_MODE=""
    start_till
    suite_extra=(-only "$WORKLOADS" -rows "$rows" -json "$RESULTS")
    [[ $XFF == 1 ]] || suite_extra+=(-xff=false)
    [[ $PGSTAT != 1 || $db != postgres ]] ||
      suite_extra+=(-pgstat "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable")
    [[ $rows == 0 ]] || {
      prefilled -rows "$rows"
      suite_extra+=(-state "$STATE")
    }
    ROW_PID=""
    if [[ $ROW_CEILING == 1 ]]; then
      start_row_ceiling "$rows"
      suite_extra+=(-row-ceiling "http://127.0.0.1:$ROW_PORT" -row-ceiling-pid "$ROW_PID")
    fi
    if [[ $PROFILE == 1 ]]; then
      mkdir -p "$WORK/profiles/rows-$rows"
      suite_extra+=(-pprof "http://127.0.0.1:$METRICS_PORT" -profile-dir "$WORK/profiles/rows-$rows")
    fi
    echo "==> $db, $rows past sessions: $RUNS runs of $DURATION per workload"
    bin/till-bench suite -label "$db" -till "http://127.0.0.1:$TILL_PORT" -kaspa "http://127.0.0.1:$KASPA_PORT" \
      -evm "http://127.0.0.1:$EVM_PORT" -ceiling "http://127.0.0.1:$CEIL_PORT" -insert-db "$INSERT_DB" \
      -pid "$TILL_PID" -db-pid "$DB_PID" -ceiling-pid "$CEIL_PID" -d "$DURATION" -runs "$RUNS" "${suite_extra[@]}" | tee -a "$REPORT"
    stop_till
    [[ -z $ROW_PID ]] || stop_pid "$ROW_PID"
    echo "==> $db, $rows past sessions took $((($(now_ms) - t0) / 1000)) s"
  done
  for open in $OPEN; do
    t0=$(now_ms)
    new_db "open-$open"
    START_MODE=metrics
    start_till metrics
    prefilled -open "$open"
    echo "==> $db, $open open sessions: $RUNS rounds of $CYCLES cycles and $PAY payments of each kind"
    bin/till-bench watch -label "$db" -open "$open" -till "http://127.0.0.1:$TILL_PORT" \
      -kaspa "http://127.0.0.1:$KASPA_PORT" -evm "http://127.0.0.1:$EVM_PORT" -metrics "http://127.0.0.1:$METRICS_PORT" \
      -pid "$TILL_PID" -db "$DB_URL" -state "$STATE" -runs "$RUNS" -cycles "$CYCLES" -pay "$PAY" -interval "$POLL" \
      -json "$RESULTS" | tee -a "$REPORT"
    stop_till
    echo "==> $db, $open open sessions took $((($(now_ms) - t0) / 1000)) s"
  done
  [[ $db != postgres ]] || pg_stop >/dev/null
done

if [[ -s $RESULTS ]]; then
  bin/till-bench report -interval "$POLL" "$RESULTS" | tee -a "$REPORT"
  [[ -z ${RESULTS_OUT:-} ]] || cp "$RESULTS" "$RESULTS_OUT"
fi

if [[ $PROFILE == 1 ]]; then
  mkdir -p "$WORK/profiles" # ROWS="" takes none
  for prof in "$WORK"/profiles/*/*.pprof; do
    [[ -e $prof ]] || continue # no workload that takes profiles ran
    case $prof in
      *.cpu.pprof) flags=() ;;
      *) flags=(-sample_index=alloc_space) ;;
    esac
    echo
    echo "==> top 10 cumulative: $(basename "$prof")"
    # The frames every request shares (fasthttp's loop, Fiber's dispatch,
    # Till's middleware closures) are hidden: their own cost stays, under
    # the frames they call (slog for the access log, the limiter, …).
    go tool pprof -top -cum -nodecount=10 "${flags[@]}" \
      -hide='valyala/fasthttp\.|fiber/v2\.\(\*(App|Ctx)\)\.(handler|next|Next)$|^till/web\.(New|routes)\.' \
      bin/till "$prof" 2>/dev/null | sed -n '/flat%/,$p'
  done | tee "$WORK/profiles/top.txt"
fi
echo
echo "==> load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
