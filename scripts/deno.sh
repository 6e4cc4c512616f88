#!/bin/sh
# Runs Deno for deno.json tasks.
#
# Why not just write `deno …` in a task: when node_modules/.bin holds the
# `deno` from npm (our pinned dev dependency), `deno task` resolves the name
# to that file and tries to run it as a JavaScript npm bin, which fails with
# "SyntaxError: Invalid or unexpected token" (denoland/deno#27114). /bin/sh
# resolves it through PATH like any program: the pinned binary when
# node_modules/.bin is on PATH (deno task puts it there), otherwise the
# user's system Deno.
if [ -x "${DENO_BIN:-}" ]; then exec "$DENO_BIN" "$@"; fi
exec deno "$@"
