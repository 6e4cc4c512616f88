/**
 * What both entrypoints share: {@link run}, with the runtime's
 * {@link Launcher}, parses the options (or exits), then supervises workers
 * or builds the watcher, the hub and the app, serves them, prints the
 * start-up line and handles signals. Entrypoints only wire.
 * @module
 */
import process from "node:process";
import { realpathSync, statSync } from "node:fs";
import { Catalog } from "./catalog.ts";
import { createApp } from "./app.ts";
import { checkOptions, ConfigError, type Options, parseConfig, PrintAndExit, USAGE } from "./config.ts";
import { Hub } from "./hub.ts";
import { createLogger, type Logger } from "./log.ts";
import type { Launcher, Runtime } from "./runtime/types.ts";
import { supervise } from "./supervisor.ts";
import { connectToSupervisor, exitWithSupervisor, startupLine, workerSlot } from "./worker.ts";
import { FileWatcher } from "./watcher.ts";
import type { Context, Hono } from "hono";
import { authenticate, defineAuthMetrics, type LockoutPolicy, parseHtpasswd, type Users } from "./auth.ts";
import { readFileSync } from "node:fs";
import { mount } from "./mount.ts";
import { requestClient, trustProxy, withTrustedProxies } from "./proxy.ts";
import { loadTls, type TlsFiles } from "./tls.ts";
import { checkHost, HostAllowlist } from "./host.ts";
import { type AddressLimits, LocalLimits, RemoteLimits } from "./limits.ts";
import { LOCKOUT } from "./lockout.ts";
import { capRequests } from "./http_limits.ts";
import { singleLinkFileOps } from "./open.ts";
import { nodeFileOps } from "./read.ts";
import { lowerSearchPriority } from "./search_pool.ts";

/**
 * The server on a runtime: what `main()` in src/deno.ts and src/bun.ts calls.
 * Exits 2 for a bad flag or access file, 1 when it cannot listen; otherwise
 * runs until a signal (docs/operations.md#signals-and-shutdown).
 * @param hooks from code only (tests/helpers/lockout_server.ts); with `--workers` the supervisor, which keeps the lock-out, applies them
 */
export function run(launcher: Launcher, hooks: TestHooks = {}): void {
  const options = optionsOrExit(launcher);
  // Checked before any worker starts: a bad auth file or certificate exits 2 once.
  const access = accessOrExit(options);
  if (options.workers > 1) {
    // This process only supervises (src/supervisor.ts); the workers serve.
    const log = createLogger(options.logFormat, options.quiet, (line) => process.stderr.write(line + "\n"));
    // The supervisor keeps the host's lock-out (src/limits.ts): the policy from hooks applies to every worker.
    void supervise(options, launcher.workerCommand(), log, hooks.lockout);
    return;
  }
  let limits: AddressLimits | undefined;
  if (options.worker !== null) {
    // A worker stops with its supervisor, even one killed by SIGKILL, and asks it about the host's
    // per-address state (src/worker.ts, src/limits.ts).
    exitWithSupervisor();
    limits = new RemoteLimits(connectToSupervisor(), caps(options));
  }
  lowerSearchPriority(launcher.threadPriority());
  const serving = launcher.open({
    host: options.host,
    port: options.port,
    tls: access.tls,
    // Workers share the port their supervisor chose; a lone server keeps its port to itself.
    reusePort: options.worker !== null,
    pongWait: options.pongWait,
    readLimit: options.readLimit,
    compress: options.compress,
  });
  const server = createServer(options, serving.runtime, access, hooks, limits);
  try {
    handleSignals(server, serving.serve(server.app.fetch, (host, port) => server.listening(host, port)));
  } catch (e) {
    console.error(`error: Cannot listen on ${options.host}:${options.port}: ${(e as Error).message}`);
    process.exit(1);
  }
}

/**
 * Parses flags and environment and checks them against the runtime, or
 * exits: 0 after `--help`, 2 with a one-line reason and the usage line for
 * anything wrong (docs/configuration.md#errors). In a worker, the port and
 * the worker's number come from its supervisor.
 */
export function optionsOrExit(
  launcher: Pick<Launcher, "name" | "args" | "compression" | "cannotSpawn">,
  env: Record<string, string | undefined> = process.env,
): Options {
  try {
    let options = parseConfig(launcher.args, env);
    const slot = workerSlot(env);
    if (slot) options = { ...options, port: slot.port, workers: 1, worker: slot.id };
    checkOptions(options, {
      runtime: launcher.name,
      compression: launcher.compression,
      platform: process.platform,
      isDirectory: (path) => {
        try {
          return statSync(path).isDirectory();
        } catch {
          return false;
        }
      },
      cannotSpawn: (workers) => launcher.cannotSpawn(workers),
    });
    return options;
  } catch (e) {
    if (e instanceof PrintAndExit) {
      process.stdout.write(e.text);
      process.exit(0);
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
}

// ---- access (docs/security.md) ----------------------------------------------

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

/** The probes: never behind credentials, never counted against a cap. */
const PROBES = ["/healthz", "/readyz"];

/** The per-address caps the options set. */
const caps = (o: Options) => ({ ws: o.maxClientsPerIp, http: o.maxRequestsPerIp });

/**
 * The app under `--base-path`, behind the Host check and the trusted-proxy
 * rules (in front of everything), the per-address cap on requests in
 * progress and, with an auth file, authentication: every route but the
 * probes, including routes the app gains later.
 */
function guarded(
  app: Hono,
  options: Options,
  access: Access,
  runtime: Runtime,
  hub: Hub,
  log: Logger,
  limits: AddressLimits,
): Hono {
  defineAuthMetrics(hub.metrics);
  const refused = { host: 0, ip_limit: 0 };
  hub.metrics.define(
    "filewatch_requests_refused_total",
    "counter",
    "HTTP requests refused before any route: 421 for a Host this server does not answer, 429 over --max-requests-per-ip.",
    () => Object.entries(refused).map(([reason, value]) => ({ labels: { reason }, value })),
  );
  const clientAddress = (c: Context) => requestClient(c, runtime).ip;
  const allow = new HostAllowlist(options.allowedHosts, options.host);
  const front = [
    trustProxy(runtime, options.trustProxy),
    checkHost(allow, runtime, options.trustProxy, () => refused.host++),
  ];
  const middleware = [capRequests({
    limits,
    max: options.maxRequestsPerIp,
    clientAddress,
    open: PROBES,
    onRefused: () => refused.ip_limit++,
  })];
  if (access.users) {
    middleware.push(
      authenticate({ users: access.users, open: PROBES, clientAddress, limits, metrics: hub.metrics, log }),
    );
  } else if (!isLoopback(options.host)) {
    log.warn(
      `serving ${options.host} without --auth-file: anyone who can reach this address reads the file (by IP address, or by a name given with --allowed-host)`,
      { host: options.host },
    );
  }
  if (allow.any) {
    log.warn(
      "--allowed-host * answers requests for any host name: a web page can then read the file through its visitors' browsers (DNS rebinding); list names instead",
    );
  }
  if (!runtime.headerTimeout && !isLoopback(options.host) && options.trustProxy.length === 0) {
    log.warn(
      `${runtime.name[0]!.toUpperCase()}${
        runtime.name.slice(1)
      }'s HTTP server never times out a client that sends its headers slowly: put a reverse proxy in front (nginx: client_header_timeout) and set --trust-proxy`,
      { host: options.host },
    );
  }
  if (access.tls && access.tls.notAfter.getTime() < Date.now()) {
    log.warn("the TLS certificate has expired: browsers will refuse it", {
      notAfter: access.tls.notAfter.toISOString(),
    });
  }
  return mount(app, options.basePath, middleware, log, front);
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
 * shorter lock-out (tests/helpers/lockout_server.ts) so they need not wait a
 * minute, and a production user cannot weaken it by setting a variable.
 */
export interface TestHooks {
  lockout?: LockoutPolicy;
}

/**
 * Builds watcher, hub and app for a runtime.
 * @param limits where the lock-out and the per-address caps are kept: this process by default, the supervisor's for a worker
 */
export function createServer(
  options: Options,
  rawRuntime: Runtime,
  access: Access = { users: null, tls: null },
  hooks: TestHooks = {},
  limits: AddressLimits = new LocalLimits(hooks.lockout ?? LOCKOUT, caps(options)),
): Server {
  // Every caller of clientAddress (the per-IP cap, logs) gets the forwarded client from a trusted proxy.
  const runtime = withTrustedProxies(rawRuntime);
  const log = createLogger(options.logFormat, options.quiet, (line) => process.stderr.write(line + "\n"));
  const root = options.dir === null ? undefined : realpathSync(options.dir);
  // In --dir mode a hard link may be any file of the filesystem: refused on every read (src/open.ts).
  const fs = root !== undefined && !options.allowHardlinks ? singleLinkFileOps(nodeFileOps) : undefined;
  const watcherFor = (file: string) =>
    new FileWatcher({
      file,
      poll: options.poll,
      maxFileSize: options.maxFileSize,
      tail: options.tail,
      events: options.events,
      onWarning: (message) => log.warn(message),
      root,
      ...(fs ? { fs } : {}),
    });
  // Several files (docs/configuration.md#several-files): the list, and a watcher per file made on demand.
  const catalog = new Catalog({
    files: options.files,
    dir: options.dir,
    glob: options.glob,
    maxFiles: options.maxFiles,
    ttl: options.poll,
    allowHardlinks: options.allowHardlinks,
    onWarning: (message) => log.warn(message),
  });
  const single = options.dir === null && options.files.length === 1;
  const watcher = single ? watcherFor(options.file) : null;
  const hub = new Hub(options, watcher, runtime, log, watcherFor, single ? catalog.only!.name : "");
  hub.metrics.define("filewatch_files", "gauge", "Files in the list (FILEs, or DIR's matching files).", () => [
    { labels: {}, value: catalog.size },
  ]);
  if (options.worker !== null) hub.metrics.constant = { worker: String(options.worker) };
  // Read the file now, not when the first client connects: a client that
  // reconnects (after a restart) is then compared with the file as it was
  // when the server started, so a line appended right after it connects
  // comes as an append, not as the whole file again. /readyz needs the read too.
  void watcher?.current();
  let isListening = false;
  const app = guarded(
    createApp(options, {
      runtime,
      hub,
      catalog,
      listening: () => isListening,
      limits,
      sharedSockets: limits instanceof RemoteLimits,
    }),
    options,
    access,
    rawRuntime,
    hub,
    log,
    limits,
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
      const what = options.dir !== null
        ? `${options.dir} (${options.glob})`
        : options.files.length <= 3
        ? options.files.join(" ")
        : `${options.files.length} files`;
      process.stdout.write(startupLine(what, url) + "\n");
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
