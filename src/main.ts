/**
 * What both entrypoints share: options or a clean exit, the watcher, the hub,
 * the app, the start-up line and signal handling. Entrypoints add only their
 * runtime's `serve`.
 * @module
 */
import process from "node:process";
import { realpathSync, statSync } from "node:fs";
import { Catalog } from "./catalog.ts";
import { createApp } from "./app.ts";
import { ConfigError, HELP, HelpRequested, type Options, parseConfig, USAGE } from "./config.ts";
import { Hub } from "./hub.ts";
import { createLogger, type Logger } from "./log.ts";
import type { Runtime, RuntimeCaps } from "./runtime/types.ts";
import { exitWithSupervisor, supervise, type WorkerCommand, workerSlot, workersUnsupported } from "./supervisor.ts";
import { FileWatcher } from "./watcher.ts";
import type { Hono } from "hono";
import { authenticate, defineAuthMetrics, type LockoutPolicy, parseHtpasswd, type Users } from "./auth.ts";
import { readFileSync } from "node:fs";
import { mount } from "./mount.ts";
import { requestClient, trustProxy, withTrustedProxies } from "./proxy.ts";
import { loadTls, type TlsFiles } from "./tls.ts";

/**
 * Parses flags and environment, or exits: 0 after `--help`, 2 with a one-line
 * reason and the usage line for anything wrong (DESIGN §6).
 */
export function optionsOrExit(
  argv: string[],
  caps: Pick<RuntimeCaps, "compression">,
  runtimeName: string,
  /** Why this process cannot start workers (Deno without --allow-run), or null. */
  cannotSpawn: (workers: number) => string | null = () => null,
): Options {
  try {
    let options = parseConfig(argv, process.env);
    if (options.compress && !caps.compression) {
      throw new ConfigError(
        `Cannot use --compress on ${runtimeName}: its WebSocket server has no permessage-deflate (run on Bun for compression)`,
      );
    }
    if (options.dir !== null) {
      let isDir = false;
      try {
        isDir = statSync(options.dir).isDirectory();
      } catch { /* missing: below */ }
      if (!isDir) throw new ConfigError(`Cannot watch --dir "${options.dir}": not a directory`);
    }
    // --workers (DESIGN §12): a worker listens where its supervisor says; a supervisor must be able to start them.
    const slot = workerSlot();
    if (slot) options = { ...options, port: slot.port, workers: 1, worker: slot.id };
    const unsupported = workersUnsupported(options.workers) ??
      (options.workers > 1 ? cannotSpawn(options.workers) : null);
    if (unsupported) throw new ConfigError(unsupported);
    return options;
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(HELP);
      process.exit(0);
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
}

// ---- access (DESIGN §11) -------------------------------------------------

/** What `--auth-file` and `--tls-cert`/`--tls-key` load at start-up. */
export interface Access {
  users: Users | null;
  tls: TlsFiles | null;
}

/** Reads the auth file and the TLS pair, or exits 2 with a one-line reason (as a bad flag does). */
export function accessOrExit(options: Options): Access {
  try {
    let users: Users | null = null;
    if (options.authFile !== null) {
      let text: string;
      try {
        text = readFileSync(options.authFile, "utf8");
      } catch (e) {
        throw new ConfigError(`Cannot read --auth-file "${options.authFile}": ${(e as Error).message}`);
      }
      try {
        users = parseHtpasswd(text);
      } catch (e) {
        throw new ConfigError(`Cannot use --auth-file "${options.authFile}": ${(e as Error).message}`);
      }
    }
    let tls: TlsFiles | null = null;
    if (options.tlsCert !== null && options.tlsKey !== null) {
      try {
        tls = loadTls(options.tlsCert, options.tlsKey);
      } catch (e) {
        throw new ConfigError((e as Error).message);
      }
    }
    return { users, tls };
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
}

const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(host);

/**
 * The app under `--base-path`, behind the trusted-proxy rules and, with an
 * auth file, authentication: every route but the probes, including routes
 * the app gains later.
 */
function guarded(
  app: Hono,
  options: Options,
  access: Access,
  runtime: Runtime,
  hub: Hub,
  log: Logger,
  hooks: TestHooks,
): Hono {
  defineAuthMetrics(hub.metrics);
  const middleware = [trustProxy(runtime, options.trustProxy)];
  if (access.users) {
    middleware.push(authenticate({
      users: access.users,
      open: ["/healthz", "/readyz"],
      clientAddress: (c) => requestClient(c, runtime).ip,
      metrics: hub.metrics,
      log,
      policy: hooks.lockout,
    }));
  } else if (!isLoopback(options.host)) {
    log.warn(`serving ${options.host} without --auth-file: anyone who can reach this address reads the file`, {
      host: options.host,
    });
  }
  if (access.tls && access.tls.notAfter.getTime() < Date.now()) {
    log.warn("the TLS certificate has expired: browsers will refuse it", {
      notAfter: access.tls.notAfter.toISOString(),
    });
  }
  return mount(app, options.basePath, middleware, log);
}

/** The running pieces. */
export interface Server {
  options: Options;
  app: Hono;
  hub: Hub;
  log: Logger;
  /** Call once the runtime listens, with the address it chose. */
  listening(host: string, port: number): void;
}

/**
 * What only code can change, never a flag or the environment: tests pass a
 * shorter lock-out (tests/e2e/lockout_server.ts) so they need not wait a
 * minute, and a production user cannot weaken it by setting a variable.
 */
export interface TestHooks {
  lockout?: LockoutPolicy;
}

/** Builds watcher, hub and app for a runtime. */
export function createServer(
  options: Options,
  rawRuntime: Runtime,
  access: Access = { users: null, tls: null },
  hooks: TestHooks = {},
): Server {
  // Every caller of clientAddress (the per-IP cap, logs) gets the forwarded client from a trusted proxy.
  const runtime = withTrustedProxies(rawRuntime);
  const log = createLogger(options.logFormat, options.quiet, (line) => process.stderr.write(line + "\n"));
  const root = options.dir === null ? undefined : realpathSync(options.dir);
  const watcherFor = (file: string) =>
    new FileWatcher({
      file,
      poll: options.poll,
      maxFileSize: options.maxFileSize,
      tail: options.tail,
      events: options.events,
      onWarning: (message) => log.warn(message),
      root,
    });
  // Several files (DESIGN §10): the list, and a watcher per file made on demand.
  const catalog = new Catalog({
    files: options.files,
    dir: options.dir,
    glob: options.glob,
    maxFiles: options.maxFiles,
    ttl: options.poll,
    onWarning: (message) => log.warn(message),
  });
  const single = options.dir === null && options.files.length === 1;
  const watcher = single ? watcherFor(options.file) : null;
  const hub = new Hub(options, watcher, runtime, log, watcherFor, single ? catalog.only!.name : "");
  hub.metrics.define("filewatch_files", "gauge", "Files in the list (FILEs, or DIR's matching files).", () => [
    { labels: {}, value: catalog.size },
  ]);
  if (options.worker !== null) {
    hub.metrics.constant = { worker: String(options.worker) };
    exitWithSupervisor();
  }
  // Read the file now, not when the first client connects: a client that
  // reconnects (after a restart) is then compared with the file as it was
  // when the server started, so a line appended right after it connects
  // comes as an append, not as the whole file again. /readyz needs the read too.
  void watcher?.current();
  let isListening = false;
  const app = guarded(
    createApp(options, { runtime, hub, catalog, listening: () => isListening }),
    options,
    access,
    rawRuntime,
    hub,
    log,
    hooks,
  );
  if (options.origins.includes("*")) {
    log.warn("--origin * allows every web page to connect (cross-site WebSocket hijacking); list origins instead");
  }
  return {
    options,
    app,
    hub,
    log,
    listening(host, port) {
      isListening = true;
      const shown = host.includes(":") ? `[${host}]` : host;
      const url = `${access.tls ? "https" : "http"}://${shown}:${port}${options.basePath}/`;
      // The one stdout line scripts wait for (DESIGN §6).
      const what = options.dir !== null
        ? `${options.dir} (${options.glob})`
        : options.files.length <= 3
        ? options.files.join(" ")
        : `${options.files.length} files`;
      process.stdout.write(`filewatch: watching ${what} on ${url}\n`);
      log.info("listening", {
        url,
        auth: access.users !== null,
        file: options.file,
        runtime: runtime.name,
        pid: process.pid,
        ...(options.worker === null ? {} : { worker: options.worker }),
      });
    },
  };
}

/** `--workers N` with N > 1: this process supervises N workers started by `command` (src/supervisor.ts). */
export function superviseWorkers(options: Options, command: WorkerCommand): void {
  const log = createLogger(options.logFormat, options.quiet, (line) => process.stderr.write(line + "\n"));
  void supervise(options, command, log);
}

/**
 * SIGINT/SIGTERM: stop accepting (`stopListening`), close every client with
 * 1001, wait for them (bounded), exit 0. A second signal exits at once.
 */
export function handleSignals(
  server: Pick<Server, "hub" | "log">,
  stopListening: () => void,
  proc: Pick<typeof process, "on" | "exit"> = process,
): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) {
      server.log.warn("second signal: exiting now", { signal });
      proc.exit(130);
    }
    stopping = true;
    server.log.info("shutting down", { signal, clients: server.hub.sessions.size });
    try {
      stopListening();
    } catch { /* already stopped */ }
    server.hub.shutdown().then((clean) => {
      server.log.info("stopped", { clean });
      proc.exit(0);
    });
  };
  proc.on("SIGINT", () => onSignal("SIGINT"));
  proc.on("SIGTERM", () => onSignal("SIGTERM"));
}
