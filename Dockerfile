# filewatch container image (docs/docker.md has the whole story).
#
#   docker build -t filewatch .                      # Deno (default)
#   docker build --target bun -t filewatch:bun .     # Bun variant
#   docker run --rm -p 8080:8080 -v /var/log/app:/data:ro \
#     -e FILEWATCH_FILE=/data/app.log filewatch
#
# The base images are build arguments so a build can point at a mirror or a
# locally built stand-in (tests/docker/ does that: no registry is reachable
# there). Both must provide what the official images provide: the runtime on
# PATH, a non-root user (deno, uid 1993 / bun, uid 1000) and, for Deno,
# DENO_DIR=/deno-dir owned by that user.
ARG DENO_IMAGE=denoland/deno:debian-2.9.6
ARG BUN_IMAGE=oven/bun:1.4.5-slim

# Bun comes first and Deno last on purpose: a build without --target builds
# the last stage, and BuildKit builds only the stages the target needs. (The
# legacy builder builds every stage up to the target, so there the default
# build also resolves BUN_IMAGE.)

# ---------------------------------------------------------------- Bun ------
FROM ${BUN_IMAGE} AS bun

WORKDIR /app
# Only what the server imports (hono, bcryptjs) is installed: deno and the
# test clients are devDependencies, and the `bun` package (the runtime the
# installed `filewatch` command brings) is left out with its optional
# per-platform binaries (--omit=optional), its 450-byte stub removed: this
# image's Bun is the base image's. Bun migrates package-lock.json when there
# is no bun.lock, so the versions and integrity hashes are the ones npm
# locked, and --frozen-lockfile fails the build if package.json no longer
# matches them.
COPY package.json package-lock.json ./
RUN bun install --production --omit=optional --frozen-lockfile --ignore-scripts --no-progress \
 && rm -rf node_modules/bun node_modules/.bin /root/.bun/install/cache
COPY src/ ./src/

# Same contract as the Deno stage below.
ENV FILEWATCH_HOST=0.0.0.0 \
    FILEWATCH_PORT=8080 \
    FILEWATCH_FILE=/data/watched
USER bun
EXPOSE 8080
# No curl or wget in the image: Bun's own fetch is the HTTP client. It follows
# FILEWATCH_BASE_PATH and, with FILEWATCH_TLS_CERT, speaks https (to itself on
# 127.0.0.1, whose name the certificate need not carry).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bun", "-e", "const e = process.env; const s = e.FILEWATCH_TLS_CERT ? 'https' : 'http'; fetch(s + '://127.0.0.1:' + (e.FILEWATCH_PORT || '8080') + (e.FILEWATCH_BASE_PATH || '').replace(/\\/$/, '') + '/healthz', { tls: { rejectUnauthorized: false } }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# bun is PID 1 (no shell in between), so `docker stop`'s SIGTERM reaches the
# server's own handler, which closes clients with 1001 and exits.
ENTRYPOINT ["bun", "run", "/app/src/bun.ts"]
CMD []

# --------------------------------------------------------------- Deno ------
FROM ${DENO_IMAGE} AS deno

WORKDIR /app
COPY deno.json ./
COPY src/ ./src/
# The npm packages the server imports (hono, bcryptjs) go into DENO_DIR now, at build
# time, so the container starts without network (it runs with --cached-only).
# --no-lock, here and at run time: with deno.lock, Deno installs and then
# requires every npm package the lockfile records, which includes the test
# clients (playwright-core alone is 14 MB). The server's npm dependencies,
# hono and bcryptjs, are pinned to exact versions in deno.json and have no
# dependencies of their own; their tarballs are checked against the registry's
# integrity hashes.
# As the deno user: DENO_DIR stays writable for Deno's own caches at run time,
# while /app stays root-owned and read-only for the server.
USER deno
ENV DENO_NO_UPDATE_CHECK=1
RUN deno cache --no-lock src/deno.ts

ENV FILEWATCH_HOST=0.0.0.0 \
    FILEWATCH_PORT=8080 \
    FILEWATCH_FILE=/data/watched
EXPOSE 8080
# No curl or wget in the image: Deno's own fetch is the HTTP client (base path
# and https as in the Bun stage).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["deno", "eval", "--unsafely-ignore-certificate-errors=127.0.0.1", "const e = (k) => Deno.env.get(k); const s = e('FILEWATCH_TLS_CERT') ? 'https' : 'http'; fetch(s + '://127.0.0.1:' + (e('FILEWATCH_PORT') || '8080') + (e('FILEWATCH_BASE_PATH') || '').replace(/\\/$/, '') + '/healthz').then((r) => Deno.exit(r.ok ? 0 : 1), () => Deno.exit(1))"]
# deno is PID 1 (not `deno task`, not a shell), so `docker stop`'s SIGTERM
# reaches the server's own handler, which closes clients with 1001 and exits.
# --allow-run names Deno's own binary and nothing else: with `--workers N` the
# server starts Deno once per worker (the official image's deno is
# /usr/bin/deno; on a base that puts it elsewhere, --workers exits 2 naming
# the path to grant).
ENTRYPOINT ["deno", "run", "--no-lock", "--cached-only", "--allow-net", "--allow-read", "--allow-env", "--allow-run=/usr/bin/deno", "/app/src/deno.ts"]
CMD []
