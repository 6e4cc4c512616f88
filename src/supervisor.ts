/**
 * `--workers N`: one supervising process and N server processes that share
 * one port through the runtimes' own `reusePort` (SO_REUSEPORT: on Linux the
 * kernel spreads new connections across the listeners);
 * docs/deployment.md#workers.
 *
 * The supervisor serves nothing itself. It starts each worker as the same
 * runtime binary with the same entrypoint and arguments, plus the variables
 * that make it a worker; prints the start-up line once, when every worker
 * listens; forwards SIGINT/SIGTERM; restarts a worker that dies, with
 * backoff; and exits 0 when every worker stopped cleanly. It also keeps
 * the host's per-address state, the lock-out and the per-address caps
 * (src/limits.ts), and answers each worker's questions about it over the
 * link (src/worker.ts), so they are one for the host, not one per worker. Written once
 * for both runtimes with node:child_process and node:net. What a worker must
 * do in return is in src/worker.ts.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";
import type { Options } from "./config.ts";
import { HostState } from "./limits.ts";
import { LOCKOUT, type LockoutPolicy } from "./lockout.ts";
import type { Logger } from "./log.ts";
import {
  askToStop,
  LINK_MARK,
  linkLine,
  parseLinkLine,
  parseStartupLine,
  type StopSignal,
  type ToSupervisor,
  type ToWorker,
  WORKER_STDIO,
  type WorkerCommand,
  workerEnv,
} from "./worker.ts";

/** The first restart of a worker that died waits this long; each further one twice as long as the last… */
export const RESTART_MIN_MS = 100;
/** …up to this long. */
export const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before it died is restarted after {@link RESTART_MIN_MS} again. */
export const RESTART_RESET_MS = 30_000;

/** A free port on `host`, for `--port 0`: every worker must listen on the same one. */
export function pickPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ host, port: 0 }, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Slot {
  id: number;
  child: ChildProcess | null;
  startedAt: number;
  listening: boolean;
  backoff: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Runs the supervisor until every worker has stopped, then exits the
 * process: 0 when all stopped cleanly after a signal, 1 when a worker could
 * not start, 130 after a second signal.
 */
export async function supervise(
  options: Pick<Options, "host" | "port" | "workers" | "maxClientsPerIp" | "maxRequestsPerIp">,
  command: WorkerCommand,
  log: Logger,
  policy: LockoutPolicy = LOCKOUT,
): Promise<void> {
  let port = options.port;
  try {
    if (port === 0) port = await pickPort(options.host);
  } catch (e) {
    process.stderr.write(`error: Cannot listen on ${options.host}:0: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const slots: Slot[] = Array.from({ length: options.workers }, (_, id) => ({
    id,
    child: null,
    startedAt: 0,
    listening: false,
    backoff: RESTART_MIN_MS,
    timer: undefined,
  }));
  // The host's lock-out and per-address caps, for every worker.
  const state = new HostState(policy, { ws: options.maxClientsPerIp, http: options.maxRequestsPerIp });
  /** Each process started gets its own number: what it holds in `state` is given back when it exits. */
  let spawned = 0;
  const tell = (child: ChildProcess | null, m: ToWorker) => {
    if (child?.stdin?.writable) child.stdin.write(linkLine(m));
  };
  let announced = false;
  let stopping: string | null = null;
  let failed = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));

  const live = () => slots.filter((s) => s.child !== null);
  const maybeDone = () => {
    if ((stopping || failed) && live().length === 0) finish();
  };

  const start = (slot: Slot) => {
    slot.timer = undefined;
    if (stopping || failed) return;
    let child: ChildProcess;
    try {
      child = spawn(command.cmd, command.args, {
        stdio: WORKER_STDIO,
        env: { ...process.env, ...workerEnv({ id: slot.id, port }) },
      });
    } catch (e) {
      process.stderr.write(`error: Cannot start worker ${slot.id}: ${(e as Error).message}\n`);
      failed = true;
      stopAll("SIGTERM");
      maybeDone();
      return;
    }
    const process_ = ++spawned;
    slot.child = child;
    slot.startedAt = Date.now();
    slot.listening = false;
    log.info("worker started", { worker: slot.id, pid: child.pid ?? 0 });
    let buf = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith(LINK_MARK)) {
          const m = parseLinkLine<ToSupervisor>(line.slice(LINK_MARK.length));
          if (!m) continue;
          const { answer, notice } = state.handle(process_, m);
          if (answer) tell(child, answer);
          if (notice) { for (const s of slots) tell(s.child, notice); }
          continue;
        }
        const startup = parseStartupLine(line);
        if (!startup) {
          process.stdout.write(line + "\n");
          continue;
        }
        slot.listening = true;
        // The start-up line once, when every worker listens: a script that
        // waits for it finds them all ready.
        if (!announced && slots.every((s) => s.listening)) {
          announced = true;
          process.stdout.write(line + "\n");
          log.info("listening", { url: startup.url, workers: slots.length, pid: process.pid });
        }
      }
    });
    child.stdin!.on("error", () => {}); // a worker that died: nothing to tell it
    child.once("error", (e) => log.error("worker failed", { worker: slot.id, error: e.message }));
    child.once("exit", (code, signal) => {
      slot.child = null;
      state.dropWorker(process_);
      const ran = Date.now() - slot.startedAt;
      if (stopping || failed) {
        if (code !== 0) failed = true;
        log.info("worker stopped", { worker: slot.id, code: code ?? -1, signal: signal ?? "" });
        maybeDone();
        return;
      }
      if (!announced && !slot.listening && !failed) {
        // It never listened: a port in use, a permission; restarting would fail alike.
        process.stderr.write(`error: worker ${slot.id} exited (${signal ?? code}) before it listened\n`);
        failed = true;
        stopAll("SIGTERM");
        maybeDone();
        return;
      }
      if (ran >= RESTART_RESET_MS) slot.backoff = RESTART_MIN_MS;
      log.warn("worker died; restarting", {
        worker: slot.id,
        code: code ?? -1,
        signal: signal ?? "",
        restartInMs: slot.backoff,
      });
      slot.timer = setTimeout(() => start(slot), slot.backoff);
      slot.backoff = Math.min(RESTART_MAX_MS, slot.backoff * 2);
    });
  };

  const stopAll = (signal: StopSignal | "SIGKILL") => {
    for (const s of slots) {
      clearTimeout(s.timer);
      s.timer = undefined;
      const child = s.child;
      if (!child) continue;
      try {
        // Asked through stdin, not signalled: a signal to another process
        // needs all of Deno's --allow-run (src/worker.ts), and after
        // child.kill() Deno's node:child_process reports that signal as the
        // exit's cause even when the worker handled it and exited 0. Only
        // SIGKILL is sent, when the exit code no longer matters.
        if (signal === "SIGKILL") child.kill("SIGKILL");
        else askToStop(child.stdin!, signal);
      } catch { /* already gone */ }
    }
  };

  const onSignal = (signal: StopSignal) => {
    if (stopping) {
      log.warn("second signal: stopping workers now", { signal });
      stopAll("SIGKILL");
      process.exit(130);
    }
    stopping = signal;
    log.info("shutting down", { signal, workers: live().length });
    stopAll(signal);
    maybeDone();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  for (const s of slots) start(s);
  await done;
  log.info("stopped", { clean: !failed });
  process.exit(failed ? 1 : 0);
}
