#!/usr/bin/env bash
# The whole test suite: type check, unit tests, the end-to-end suite against
# real servers on Deno and on Bun, the browser tests in Chromium, and the
# container test. Installs what it needs first (npm packages here; Debian's
# chromium and docker.io are installed by the suites that need them when run
# as root), so a fresh machine with Node.js and npm can run it as it is.
# Ends with one line: "filewatch: N passed, N failed".
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

# suite NAME PATTERN REPLACEMENT COMMAND…: runs the command, shows its
# output, and adds the counts from its last summary line; PATTERN and
# REPLACEMENT (sed -E) turn that line into "PASSED FAILED". A non-zero exit
# with no failure counted (a crash, a type error) counts as one failure, and
# so does a suite that printed no summary at all.
suite() {
  local name=$1 pattern=$2 repl=$3
  shift 3
  log "$name"
  local out rc line p f
  out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(sed -nE "s/$pattern/$repl/p" "$out" | tail -n 1)
  read -r p f <<<"${line:-0 1}"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$f" -ne 0 ]; then failures+=("$name"); fi
  rm -f "$out"
}

DENO_SUMMARY='^(ok|FAILED) \| ([0-9]+) passed( \([0-9]+ steps\))? \| ([0-9]+) failed.*'
OWN_SUMMARY='^[a-z]+: ([0-9]+) passed, ([0-9]+) failed$'

log "type check"
# The page's script (src/client/) is checked on its own with the DOM library:
# adding it to the server's check would give the server code DOM globals.
if "$DENO" check src/deno.ts src/runtime/bun.ts src/main.ts src/shared/ tests/ bench/ &&
  "$DENO" check --config src/client/deno.json src/client/main.ts src/client/index.ts src/shared/; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  failures+=("type check")
fi
# Debian packages the suites drive for real: chromium (browser tests), nginx
# (the reverse-proxy tests run deploy/'s config in it), openssl (test
# certificates are made at test time, never committed).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian's ${need[*]} for the tests"
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}") >/tmp/filewatch-apt.log 2>&1 ||
    { tail -n 20 /tmp/filewatch-apt.log; echo "could not install ${need[*]}"; }
fi
suite "unit tests" "$DENO_SUMMARY" '\2 \4' "$DENO" test -A tests/unit/
suite "end-to-end suite (deno and bun)" "$DENO_SUMMARY" '\2 \4' "$DENO" test -A tests/e2e/
suite "browser (Chromium, deno and bun)" "$DENO_SUMMARY" '\2 \4' "$DENO" test -A tests/browser/
suite "container image (Docker)" "$OWN_SUMMARY" '\1 \2' bash tests/docker/run.sh

echo
if [ ${#failures[@]} -gt 0 ]; then echo "failed: ${failures[*]}"; fi
echo "filewatch: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
