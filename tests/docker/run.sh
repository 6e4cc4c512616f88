#!/usr/bin/env bash
# Container test entry point: `bash tests/docker/run.sh`.
#
# Makes sure a Docker engine is there (installs Debian's docker.io and starts
# dockerd when needed, and stops the dockerd it started when done), then runs
# tests/docker/check.ts, which builds stand-in base images, builds the
# project's Dockerfile and checks the running containers. Its last line is
# `docker: N passed, N failed`; the exit status is non-zero on any failure.
#
# The only case that exits 0 without testing is a machine where no Docker
# engine can be started at all (no root to install or start one, no usable
# kernel features): then it says SKIP loudly.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
# dockerd and debootstrap live in sbin, which a non-login PATH may lack.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
ROOT=$PWD
LOG_DIR=${FILEWATCH_DOCKER_LOG_DIR:-$(mktemp -d /tmp/filewatch-docker-run.XXXXXX)}
DOCKERD_PID=

say() { printf 'docker-test: %s\n' "$*" >&2; }

skip() {
  printf '\n%s\n' "######################################################################"
  printf '%s\n' "## SKIP: the Docker image test did NOT run."
  printf '## %s\n' "$@"
  printf '%s\n\n' "######################################################################"
  echo "docker: 0 passed, 0 failed, 1 skipped"
  exit 0
}

stop_our_dockerd() {
  # Quiet when all goes well, so the summary stays the last line.
  [ -n "$DOCKERD_PID" ] || return 0
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  for _ in $(seq 1 30); do
    kill -0 "$DOCKERD_PID" 2>/dev/null || return 0
    sleep 1
  done
  say "dockerd $DOCKERD_PID did not stop within 30s; killing it"
  kill -KILL "$DOCKERD_PID" 2>/dev/null
}
trap stop_our_dockerd EXIT

engine_up() { timeout 20 docker info >/dev/null 2>&1; }

apt_install() {
  # Waits for another apt/dpkg run to finish instead of failing on its lock.
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$@" \
    >>"$LOG_DIR/apt.log" 2>&1 && return 0
  say "apt-get install $* failed; updating the package lists and retrying"
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >>"$LOG_DIR/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$@" \
    >>"$LOG_DIR/apt.log" 2>&1
}

# --- packages: the engine, and debootstrap for the stand-in base image ------
missing=()
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if ! engine_up && ! command -v dockerd >/dev/null 2>&1; then
  [[ " ${missing[*]} " == *" docker.io "* ]] || missing+=(docker.io)
fi
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} (log: $LOG_DIR/apt.log)"
    apt_install "${missing[@]}" || say "could not install ${missing[*]} (see $LOG_DIR/apt.log)"
  else
    say "missing ${missing[*]} and cannot install them (not root, or no apt-get)"
  fi
fi
command -v docker >/dev/null 2>&1 || skip "No docker client and it could not be installed (see $LOG_DIR/apt.log)."

# --- the engine --------------------------------------------------------------
if ! engine_up; then
  command -v dockerd >/dev/null 2>&1 || skip "No Docker engine is running and dockerd could not be installed."
  [ "$(id -u)" = 0 ] || skip "No Docker engine is running and starting dockerd needs root."
  say "starting dockerd (log: $LOG_DIR/dockerd.log)"
  # Its own session and no inherited stdout/stderr, so it cannot hold the
  # caller's pipes open; it is stopped by PID on exit.
  setsid dockerd >"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    engine_up && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 1
  done
  if ! engine_up; then
    tail -n 15 "$LOG_DIR/dockerd.log" >&2
    stop_our_dockerd
    DOCKERD_PID=
    skip "dockerd could not be started on this machine (log: $LOG_DIR/dockerd.log)."
  fi
fi
say "engine: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"

# --- the checks ----------------------------------------------------------------
DENO=$ROOT/node_modules/.bin/deno
if [ ! -x "$DENO" ]; then
  echo "docker: error: $DENO is missing (run npm ci first)" >&2
  echo "docker: 0 passed, 1 failed"
  exit 1
fi
FILEWATCH_DOCKER_LOG_DIR=$LOG_DIR "$DENO" run --allow-all --no-lock tests/docker/check.ts
exit $?
