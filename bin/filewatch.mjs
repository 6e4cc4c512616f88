#!/usr/bin/env node
/**
 * `filewatch`, the installed command (`npm install -g filewatch-*.tgz`, or
 * `npx filewatch-*.tgz FILE`). Node.js only starts the server on a runtime
 * and stays out of its way: arguments, stdin/stdout/stderr and the exit code
 * are the server's, and SIGINT/SIGTERM/SIGHUP are passed on to it.
 *
 * Which runtime: Bun, the package's dependency, unless FILEWATCH_RUNTIME=deno.
 * Bun reads the server's npm packages from the node_modules npm just
 * installed, so nothing is fetched at start and no permission flags need
 * keeping in step;
 * npm has Bun builds where it has no Deno (Linux with musl, e.g. Alpine); and
 * `--compress` works on Bun only. Deno is an optional peer: install it beside
 * filewatch (`npm install -g filewatch-*.tgz deno@2.9.6`) or have `deno` on
 * PATH, and it runs the server sandboxed (read, net, env, and running only
 * itself for `--workers`). docs/deployment.md has the whole story.
 *
 * Written in plain JavaScript for Node.js 18+: it runs before any runtime that
 * could run TypeScript is known.
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The package's root: bin/.. (Node has resolved npm's bin symlink already). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(ROOT, "package.json"));
const EXE = process.platform === "win32" ? ".exe" : "";

/** Signals passed on to the server. SIGHUP too: a closed terminal should stop it as it stops us. */
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"];
/**
 * One Ctrl-C can reach us twice: from the terminal and from npm/npx, which
 * pass SIGINT/SIGTERM on to the command they run. The server takes a second
 * signal as "exit now", so the same signal again within this many ms is the
 * same event and is not passed on.
 */
const SAME_SIGNAL_MS = 300;
/**
 * How often we look whether our parent is gone. `npx` runs us through
 * `sh -c`, and a SIGTERM to npx reaches only that shell, which dies and
 * leaves us running: then we stop the server as if the SIGTERM had come.
 */
const PARENT_CHECK_MS = 1_000;

/** A file, or null when it is not there. */
const found = (path) => (path && existsSync(path) ? path : null);

/** The directory of an installed npm package, resolved as the package itself would import it; null if absent. */
function packageDir(name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

/** `name` on PATH, or null. */
function onPath(name) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name + EXE))) return join(dir, name + EXE);
  }
  return null;
}

/** Is this Linux's C library musl (Alpine)? As Bun's own installer tells. */
function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    return !process.report.getReport().header.glibcVersionRuntime;
  } catch {
    return existsSync("/etc/alpine-release");
  }
}

/**
 * Bun's binary. npm installs it in a per-platform package
 * (`@oven/bun-linux-x64/bin/bun`), and the `bun` package's install script
 * moves it to `bun/bin/bun.exe`. Both places are looked at, so the command
 * works whether or not npm ran that script (npm 12 runs none it was not told
 * to; `--ignore-scripts` neither).
 */
function findBun() {
  const os = { darwin: "darwin", linux: "linux", win32: "windows" }[process.platform];
  const arch = { arm64: "aarch64", x64: "x64" }[process.arch];
  const candidates = [];
  if (os && arch) {
    const names = [`bun-${os}-${arch}`];
    if (isMusl()) names.unshift(`bun-${os}-${arch}-musl`);
    for (const name of names) {
      const dir = packageDir(`@oven/${name}`);
      if (dir) candidates.push(join(dir, "bin", "bun" + EXE));
    }
  }
  const pkg = packageDir("bun");
  // Until its install script runs, bun.exe is a 450-byte script that says so: not a binary.
  const moved = pkg && found(join(pkg, "bin", "bun.exe"));
  if (moved && statSync(moved).size > 1_000_000) candidates.push(moved);
  for (const path of candidates) if (found(path)) return path;
  return onPath("bun");
}

/** Deno's binary: the `deno` package's platform package, its installed copy, or `deno` on PATH. */
function findDeno() {
  const os = { darwin: "darwin", linux: "linux", win32: "win32" }[process.platform];
  const arch = { arm64: "arm64", x64: "x64" }[process.arch];
  const candidates = [];
  if (os && arch && !isMusl()) {
    const dir = packageDir(`@deno/${os}-${arch}${os === "linux" ? "-glibc" : ""}`);
    if (dir) candidates.push(join(dir, "deno" + EXE));
  }
  const pkg = packageDir("deno");
  if (pkg) candidates.push(join(pkg, "deno" + EXE));
  for (const path of candidates) if (found(path)) return path;
  return onPath("deno");
}

/** How to start the server on `runtime` with binary `bin`: command, arguments, extra environment. */
function serverCommand(runtime, bin, args) {
  if (runtime === "bun") {
    // DO_NOT_TRACK: Bun sends no crash reports or usage data (the repository's bunfig.toml says the same for clones).
    return { cmd: bin, args: ["run", join(ROOT, "src", "bun.ts"), ...args], env: { DO_NOT_TRACK: "1" } };
  }
  // Deno.execPath() is the binary's real path, and --allow-run must name exactly that file.
  const self = realpathSync(bin);
  return {
    cmd: self,
    args: [
      "run",
      // Only Deno's progress and warnings: errors still print and still fail the start (docs/runtimes.md).
      "--quiet",
      // The import map pins hono and bcryptjs; no lock file ships with the package.
      "--no-lock",
      `--config=${join(ROOT, "deno.json")}`,
      "--allow-net",
      "--allow-read",
      "--allow-env",
      `--allow-run=${self}`,
      join(ROOT, "src", "deno.ts"),
      ...args,
    ],
    // DENO_NO_PACKAGE_JSON: a package.json where the user stands is theirs, not ours to resolve.
    env: { DENO_NO_PACKAGE_JSON: "1", DENO_NO_UPDATE_CHECK: "1" },
  };
}

/** Prints one line and exits: 2 for a bad FILEWATCH_RUNTIME (as for a bad flag), 1 when no runtime is there. */
function fail(code, message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

function main() {
  const wanted = (process.env.FILEWATCH_RUNTIME ?? "").trim().toLowerCase();
  if (wanted !== "" && wanted !== "bun" && wanted !== "deno") {
    fail(2, `Cannot use FILEWATCH_RUNTIME "${process.env.FILEWATCH_RUNTIME}": expected bun or deno`);
  }
  let runtime = wanted || "bun";
  let bin = runtime === "bun" ? findBun() : findDeno();
  if (!bin && wanted === "") {
    // Bun is a dependency, but npm skips an optional platform package it has no build for: try Deno then.
    const deno = findDeno();
    if (deno) [runtime, bin] = ["deno", deno];
  }
  if (!bin) {
    fail(
      1,
      runtime === "deno"
        ? "Cannot find Deno for FILEWATCH_RUNTIME=deno: install it beside filewatch (npm install -g deno@2.9.6) or put deno on PATH"
        : `Cannot find Bun (the package's dependency) for ${process.platform}-${process.arch}: reinstall filewatch, or set FILEWATCH_RUNTIME=deno with Deno installed`,
    );
  }

  const { cmd, args, env } = serverCommand(runtime, bin, process.argv.slice(2));
  const child = spawn(cmd, args, {
    stdio: "inherit",
    env: { ...env, ...process.env },
    // Its own process group, so a terminal's Ctrl-C reaches the server once, through us (not on Windows,
    // where it would open a console window).
    detached: process.platform !== "win32",
  });
  const last = new Map();
  const forward = (signal) => {
    const now = Date.now();
    if (now - (last.get(signal) ?? -Infinity) < SAME_SIGNAL_MS) return;
    last.set(signal, now);
    child.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    // Unless a signal went on already (the parent may have died of the same one): a second means "exit now".
    if (last.size === 0) forward("SIGTERM");
  }, PARENT_CHECK_MS);
  watch.unref();
  child.on("error", (e) => fail(1, `Cannot start ${runtime} (${cmd}): ${e.message}`));
  child.on("exit", (code, signal) => {
    if (signal) {
      // Die of the same signal, so whoever started us sees what happened to the server.
      for (const s of FORWARDED) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

main();
