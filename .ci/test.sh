#!/usr/bin/env bash
# Everything CI checks (`make test`, `.ci/run`). Works on a fresh Debian 12
# machine that has Go, Node/npm and apt: it installs what is missing, starts a
# throwaway PostgreSQL, checks the generated files and lint, then runs every
# Go test (browser tests included) once on SQLite and once on Postgres.
# Stops at the first failing step; always stops Postgres and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
source .ci/pg.sh

# Browser tests drive Debian's Chromium (no browser download).
export TILL_TEST_CHROMIUM=${TILL_TEST_CHROMIUM:-/usr/bin/chromium}

START_MS=$(now_ms)
SUMMARY=()   # one line per finished step
CURRENT=""   # the step running now, for the summary if it fails

finish() {
  local rc=$?
  pg_stop
  echo
  echo "==> summary"
  local line
  for line in "${SUMMARY[@]}"; do echo "  $line"; done
  [[ -z $CURRENT ]] || echo "  FAIL  $CURRENT"
  if ((rc == 0)); then
    echo "==> PASS: all steps passed in $(fmt_ms $(($(now_ms) - START_MS)))"
  else
    echo "==> FAIL (exit $rc) after $(fmt_ms $(($(now_ms) - START_MS)))"
  fi
  exit "$rc"
}
trap finish EXIT
# Turn Ctrl-C and kill into a normal exit so the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

# step TITLE CMD...: run one step with a header and its duration; exit on
# failure. Steps that are shell functions must return non-zero themselves
# (set -e does not apply inside a command that is tested with ||).
step() {
  local title=$1 t rc=0
  shift
  CURRENT=$title
  echo
  echo "==> $title"
  t=$(now_ms)
  "$@" || rc=$?
  t=$(fmt_ms $(($(now_ms) - t)))
  if ((rc != 0)); then
    CURRENT="$title  ($t, exit $rc)"
    echo "==> FAILED: $title ($t, exit $rc)"
    exit "$rc"
  fi
  SUMMARY+=("ok    $title  ($t)")
  CURRENT=""
  echo "==> ok: $title ($t)"
}

versions() {
  echo "go:       $(go version)"
  echo "node:     $(node --version 2>/dev/null || echo missing)  npm $(npm --version 2>/dev/null || echo missing)"
  echo "chromium: $("$TILL_TEST_CHROMIUM" --version 2>/dev/null || echo missing)"
  echo "cpus:     $(nproc)  user: $(id -un)"
}

npm_ci_if_missing() {
  if [[ -d node_modules ]]; then
    echo "node_modules present, skipping npm ci"
  else
    npm ci --no-audit --no-fund
  fi
}

# go_test ENGINE: every Go test with -race on one engine. The verbose log
# goes to a file; the terminal gets the package lines, on failure the failed
# tests with their output lines, and one count line ("sqlite: N passed,
# N failed, N skipped", subtests included).
go_test() { # go_test ENGINE
  local log rc=0 passed failed skipped
  log=$(mktemp "${TMPDIR:-/tmp}/till-test-$1.XXXXXX")
  TILL_TEST_DB=$1 go test -race -count=1 -timeout 30m -v ./... >"$log" 2>&1 || rc=$?
  grep -E '^(ok|FAIL)\s' "$log" || true
  if ((rc != 0)); then
    # What failed, with the test output lines (file:line) around it.
    grep -E '^\s*--- FAIL|^panic:|^FAIL$|^# |\.go:[0-9]+:[0-9]+: |_test\.go:[0-9]+:|\.go:[0-9]+ \+0x' "$log" | tail -n 300 || true
  fi
  passed=$(grep -cE '^\s*--- PASS' "$log" || true)
  failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
  skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
  echo "$1: $passed passed, $failed failed, $skipped skipped"
  if ((rc != 0)); then
    echo "full log: $log"
  else
    rm -f "$log"
  fi
  return "$rc"
}

step "system packages (apt, only what is missing)" \
  ensure_packages postgresql chromium nodejs npm make git gcc
step "environment" versions
step "start postgres" pg_start
step "npm ci (if node_modules is missing)" npm_ci_if_missing
step "make check-generated" make --no-print-directory check-generated
step "make lint" make --no-print-directory lint
step "go test -race ./... on SQLite" go_test sqlite
step "go test -race ./... on Postgres" go_test postgres
