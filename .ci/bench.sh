#!/usr/bin/env bash
# `make bench`: every Go benchmark, once on SQLite and once on a throwaway
# PostgreSQL started the same way as in .ci/test.sh. Results go to stdout;
# record the ones that matter in docs/BENCHMARKS.md.
#
# Knobs (environment): BENCH (regexp, default "."), BENCHTIME (default 1s),
# COUNT (default 1; use 6+ for benchstat), PKGS (default ./...).
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
echo "go: $(go version)  cpus: $(nproc)"

for db in sqlite postgres; do
  echo
  echo "==> benchmarks on $db"
  t=$(now_ms)
  # -run '^$' skips the tests; benchmarks only. $PKGS is unquoted on purpose
  # (it may list several packages).
  # shellcheck disable=SC2086
  TILL_TEST_DB=$db go test -run '^$' -bench "$BENCH" -benchmem -benchtime "$BENCHTIME" \
    -count "$COUNT" -timeout 60m $PKGS | tee "$OUT/$db.txt"
  echo "==> $db done in $(fmt_ms $(($(now_ms) - t)))"
done

echo
echo "==> results"
for db in sqlite postgres; do
  echo "--- $db"
  grep -E '^(Benchmark|pkg:)' "$OUT/$db.txt" || echo "(no benchmarks yet)"
done
