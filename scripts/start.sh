#!/bin/sh
# The server on Deno, for `npm start -- FILE` and `deno task start FILE`
# (docs/runtimes.md). Every flag works, `--workers` included.
#
# --allow-run names Deno's own binary and nothing else: `--workers N` starts
#   Deno once per worker. Deno compares it with Deno.execPath(), the binary's
#   real path, so the path is resolved first.
# --no-lock: deno.lock records the test suite's npm packages too, and with a
#   lock file Deno fetches every package it records before the server's first
#   line runs (playwright-core alone is 14 MB). The server needs two, hono and
#   bcryptjs, pinned to exact versions in deno.json; Deno checks their
#   tarballs against the registry's integrity hashes.
# --quiet: the first start fetches those two into Deno's cache, and Deno
#   prints a line per download. --quiet drops Deno's progress and warning
#   lines only: an error (a failed download, a missing permission) is still
#   printed and still fails the start, and the server's own output is
#   untouched. So stdout holds the start-up line and stderr the log.
# DENO_NO_PACKAGE_JSON: package.json lists Bun, Deno and the test tools for
#   npm; Deno would resolve (and fetch) those too.
# DENO_NO_UPDATE_CHECK: a file viewer opens no connection nobody asked for.
here=$(dirname "$0")
deno=$(sh "$here/deno.sh" --path) || exit 1
export DENO_NO_PACKAGE_JSON=1 DENO_NO_UPDATE_CHECK=1
exec "$deno" run --quiet --no-lock --allow-net --allow-read --allow-env --allow-run="$deno" "$here/../src/deno.ts" "$@"
