#!/bin/sh
# Runs Deno for the deno.json tasks; `deno.sh --path` prints which Deno that
# is, as the real path of the binary (scripts/start.sh grants it --allow-run).
#
# Why not just write `deno …` in a task: when node_modules/.bin holds the
# `deno` from npm (our pinned dev dependency), `deno task` resolves the name
# to that file and tries to run it as a JavaScript npm bin, which fails with
# "SyntaxError: Invalid or unexpected token" (denoland/deno#27114). Here sh
# runs the binary directly: DENO_BIN when set, the pinned one when
# `npm install` put it there, otherwise the user's system Deno from PATH.
pinned="$(dirname "$0")/../node_modules/.bin/deno"
if [ -n "${DENO_BIN:-}" ]; then
  bin=$DENO_BIN
elif [ -x "$pinned" ]; then
  bin=$pinned
else
  bin=$(command -v deno) || {
    echo "error: Cannot find Deno: run npm install (it brings the pinned Deno), or install Deno 2.x" >&2
    exit 1
  }
fi
if [ "${1:-}" = "--path" ]; then
  # Deno.execPath() is the file itself, symlinks resolved (node_modules/.bin/deno is one).
  realpath "$bin" 2>/dev/null || readlink -f "$bin" 2>/dev/null || echo "$bin"
  exit 0
fi
exec "$bin" "$@"
