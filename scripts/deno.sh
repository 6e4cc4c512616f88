#!/bin/sh
# Runs Deno for the deno.json tasks.
#
# Why not just write `deno …` in a task: when node_modules/.bin holds the
# `deno` from npm (our pinned dev dependency), `deno task` resolves the name
# to that file and tries to run it as a JavaScript npm bin, which fails with
# "SyntaxError: Invalid or unexpected token" (denoland/deno#27114). Here sh
# runs the binary directly: the pinned one when `npm install` put it there,
# otherwise the user's system Deno from PATH.
pinned="$(dirname "$0")/../node_modules/.bin/deno"
if [ -n "${DENO_BIN:-}" ]; then exec "$DENO_BIN" "$@"; fi
if [ -x "$pinned" ]; then exec "$pinned" "$@"; fi
exec deno "$@"
