#!/usr/bin/env bash
# `make bench`: every Go benchmark, once on SQLite and once on a throwaway
# PostgreSQL started the same way as in .ci/test.sh. Results go to stdout;
# record the ones that matter in docs/BENCHMARKS.md (it explains each
# figure). The whole run takes about 13 minutes on a 2-core machine, of
# which the EVM watcher's benchmarks (workers/evm, against the simulated
# chain) take about 3 (1.5 per engine, most of it mining 10,000-block
# outages and opening 10,000-session fixtures).
#
# Knobs (environment): BENCH (regexp, default "."), BENCHTIME (default 1s),
# COUNT (default 1; use 6+ for benchstat), PKGS (default ./...). BENCH is
# matched level by level ("/") with top-level alternatives ("|"), e.g.
#   make bench BENCH='Payments/rows=(0|100k)|WatcherCycle|Serve'  # all but the 1M-row table
#   make bench BENCH=Serve                                        # the real binary only
#   make bench BENCH=EVM PKGS=./workers/evm                       # the EVM watcher only
#   make bench BENCH='EVMWatcherCycle/sessions=1000$' PKGS=./workers/evm  # without 10,000-session setups
# (the 1M-row table spends about a minute per engine filling itself).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
source .ci/pg.sh

BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-1}
PKGS=${PKGS:-./...}
OUT=$(mktemp -d) # raw output per engine, for the summary at the end

cleanup() {
  pg_stop
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_packages postgresql
pg_start
echo "go: $(go version)  cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))" \
  "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
# Benchmarks share the machine with whatever else runs: show how busy it was.
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
load

for db in sqlite postgres; do
  echo
  echo "==> benchmarks on $db"
  t=$(now_ms)
  # -run '^$' skips the tests; benchmarks only. $PKGS is unquoted on purpose
  # (it may list several packages).
  # shellcheck disable=SC2086
  TILL_TEST_DB=$db go test -run '^$' -bench "$BENCH" -benchmem -benchtime "$BENCHTIME" \
    -count "$COUNT" -timeout 60m $PKGS | tee "$OUT/$db.txt"
  echo "==> $db done in $(fmt_ms $(($(now_ms) - t))); $(load)"
done

echo
echo "==> results"
for db in sqlite postgres; do
  echo "--- $db"
  grep -E '^(Benchmark|pkg:)' "$OUT/$db.txt" || echo "(no benchmarks yet)"
done
