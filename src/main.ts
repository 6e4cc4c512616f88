/**
 * What both entrypoints share: options or a clean exit, the watcher, the hub,
 * the app, the start-up line and signal handling. Entrypoints add only their
 * runtime's `serve`.
 * @module
 */
import process from "node:process";
import { createApp } from "./app.ts";
import { ConfigError, HELP, HelpRequested, type Options, parseConfig, USAGE } from "./config.ts";
import { Hub } from "./hub.ts";
import { createLogger, type Logger } from "./log.ts";
import type { Runtime, RuntimeCaps } from "./runtime/types.ts";
import { exitWithSupervisor, supervise, type WorkerCommand, workerSlot, workersUnsupported } from "./supervisor.ts";
import { FileWatcher } from "./watcher.ts";
import type { Hono } from "hono";

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

/** The running pieces. */
export interface Server {
  options: Options;
  app: Hono;
  hub: Hub;
  log: Logger;
  /** Call once the runtime listens, with the address it chose. */
  listening(host: string, port: number): void;
}

/** Builds watcher, hub and app for a runtime. */
export function createServer(options: Options, runtime: Runtime): Server {
  const log = createLogger(options.logFormat, options.quiet, (line) => process.stderr.write(line + "\n"));
  const watcher = new FileWatcher({
    file: options.file,
    poll: options.poll,
    maxFileSize: options.maxFileSize,
    tail: options.tail,
    events: options.events,
    onWarning: (message) => log.warn(message),
  });
  const hub = new Hub(options, watcher, runtime, log);
  if (options.worker !== null) {
    hub.metrics.constant = { worker: String(options.worker) };
    exitWithSupervisor();
  }
  // Read the file now, not when the first client connects: a client that
  // reconnects (after a restart) is then compared with the file as it was
  // when the server started, so a line appended right after it connects
  // comes as an append, not as the whole file again. /readyz needs the read too.
  void watcher.current();
  let isListening = false;
  const app = createApp(options, { runtime, hub, listening: () => isListening });
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
      // The one stdout line scripts wait for (DESIGN §6).
      process.stdout.write(`filewatch: watching ${options.file} on http://${shown}:${port}/\n`);
      log.info("listening", {
        url: `http://${shown}:${port}/`,
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
