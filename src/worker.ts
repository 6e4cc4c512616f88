/**
 * The contract between the supervisor of `--workers N` (src/supervisor.ts)
 * and each worker it starts (docs/deployment.md#workers), in one place:
 *
 * - **Environment**: the supervisor sets {@link WORKER_ID_ENV} and
 *   {@link WORKER_PORT_ENV} ({@link workerEnv}); a process that finds both
 *   is a worker ({@link workerSlot}) and listens on that port with `reusePort`.
 * - **Standard streams** ({@link WORKER_STDIO}): the worker's stdin is a pipe
 *   from the supervisor, its stdout a pipe to it, its stderr the supervisor's.
 * - **Start-up line**: the line every server prints once it listens
 *   ({@link startupLine}, docs/configuration.md#start-up-line-and-output);
 *   the supervisor reads it from each worker ({@link parseStartupLine}) and
 *   prints it once, when all of them listen.
 * - **The parent watch**: a worker shuts down when its stdin ends, i.e.
 *   when the supervisor is gone ({@link exitWithSupervisor}).
 * - **Stopping**: the supervisor asks a worker to stop by writing a
 *   signal's name on its stdin ({@link askToStop}), and the worker signals
 *   itself. Sending the signal would need more of Deno than running its own
 *   binary: `--allow-run=<deno>` lets a process start Deno and signal itself,
 *   not signal another process (that takes all of `--allow-run`).
 * - **The link**: questions about the host's per-address state (the
 *   lock-out, the per-address caps), which the supervisor keeps for every
 *   worker (src/limits.ts). A worker writes each {@link ToSupervisor} as one
 *   stdout line that starts with {@link LINK_MARK} (the supervisor passes
 *   every other line through); the supervisor writes each {@link ToWorker}
 *   as one JSON line on the worker's stdin, beside the signal names
 *   ({@link linkLine}, {@link parseLinkLine}, {@link readLines}).
 * @module
 */
import process from "node:process";

/** Set by the supervisor for a worker: its number (0 … N−1), which `/metrics` names. */
export const WORKER_ID_ENV = "FILEWATCH_WORKER_ID";
/** Set by the supervisor for a worker: the port every worker listens on (chosen once when `--port 0`). */
export const WORKER_PORT_ENV = "FILEWATCH_WORKER_PORT";

/** A worker's place: its number and the port all workers share. */
export interface WorkerSlot {
  id: number;
  port: number;
}

/** How to start one worker: the runtime's binary and its arguments (entrypoint and the user's arguments included). */
export interface WorkerCommand {
  cmd: string;
  args: string[];
}

/** The variables that make a process the worker in `slot` (added to the supervisor's own environment). */
export function workerEnv(slot: WorkerSlot): Record<string, string> {
  return { [WORKER_ID_ENV]: String(slot.id), [WORKER_PORT_ENV]: String(slot.port) };
}

/** This process's slot when a supervisor started it ({@link workerEnv}), else null. */
export function workerSlot(env: Record<string, string | undefined> = process.env): WorkerSlot | null {
  const id = env[WORKER_ID_ENV];
  const port = env[WORKER_PORT_ENV];
  if (id === undefined || port === undefined || !/^\d+$/.test(id) || !/^\d+$/.test(port)) return null;
  return { id: Number(id), port: Number(port) };
}

/**
 * A worker's stdin, stdout and stderr (`node:child_process` `stdio`). stdin
 * is a pipe the worker watches ({@link exitWithSupervisor}): when the
 * supervisor is gone, even by SIGKILL, the worker reads end-of-file. stdout
 * is read for the start-up line; stderr (the logs) goes straight through.
 */
export const WORKER_STDIO: ["pipe", "pipe", "inherit"] = ["pipe", "pipe", "inherit"];

/**
 * The one stdout line scripts wait for, without its newline:
 * `filewatch: watching app.log on http://127.0.0.1:8080/`.
 * @param watching what is watched: the files, or `DIR (PATTERN)`
 * @param url where the app is served, ending in `/`
 */
export function startupLine(watching: string, url: string): string {
  return `filewatch: watching ${watching} on ${url}`;
}

const STARTUP_LINE = /^filewatch: watching (.*) on (https?:\/\/\S+\/)$/;

/** A {@link startupLine} read back, or null for any other line (what a worker prints besides). */
export function parseStartupLine(line: string): { watching: string; url: string } | null {
  const m = STARTUP_LINE.exec(line);
  return m ? { watching: m[1]!, url: m[2]! } : null;
}

/** The signals a supervisor passes on to its workers ({@link askToStop}). */
export type StopSignal = "SIGINT" | "SIGTERM";

/** In the supervisor: asks a worker to stop as on `signal` (through its stdin, which then ends). */
export function askToStop(stdin: NodeJS.WritableStream, signal: StopSignal): void {
  stdin.end(`${signal}\n`);
}

/**
 * In a worker: shut down as on the signal the supervisor names
 * ({@link askToStop}), or as on SIGTERM when the supervisor's end of stdin
 * closes, so no worker outlives its supervisor. Once: a second signal would
 * mean "exit now".
 * @param stdin the pipe from the supervisor
 * @param stop what shutting down means (the signal to this process, which its signal handler takes)
 */
export function exitWithSupervisor(
  stdin: NodeJS.ReadableStream = process.stdin,
  stop: (signal: StopSignal) => void = (signal) => process.kill(process.pid, signal),
): void {
  let stopped = false;
  const once = (signal: StopSignal) => {
    if (stopped) return;
    stopped = true;
    stop(signal);
  };
  let buf = "";
  // Reading is also what makes the stream see its end. Lines other than a signal's name are dropped.
  stdin.on("data", (chunk: Buffer | string) => {
    buf += String(chunk);
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line === "SIGINT" || line === "SIGTERM") once(line);
    }
  });
  stdin.once("end", () => once("SIGTERM"));
  stdin.resume();
}

// ---- the link ----------------------------------------------------------------

/** First character of a worker's stdout line that is a link message (ASCII record separator: no printed line has it). */
export const LINK_MARK = "\x1e";

/** What a per-address cap counts: WebSocket connections (`--max-clients-per-ip`) or HTTP requests in progress. */
export type SlotKind = "ws" | "http";

/**
 * A worker's question or notice to the supervisor. `id` names the question
 * and, for `attempt` and `reserve`, what it took (the ticket that `settle`
 * and `release` give back).
 */
export type ToSupervisor =
  /** May `ip` have one password checked now? It counts as a failure until settled. */
  | { op: "attempt"; id: number; ip: string }
  /** How the attempt `id` ended: the answer says how long to hold a 401 back. */
  | { op: "settle"; id: number; outcome: "ok" | "fail" | "cancel" }
  /** May `ip` take one more slot of `kind`? */
  | { op: "reserve"; id: number; kind: SlotKind; ip: string }
  /** Gives back the slot `reserve` `id` took (nothing when it was refused). No answer. */
  | { op: "release"; id: number };

/** The supervisor's answer to one {@link ToSupervisor} (by `id`), or a notice to every worker. */
export type ToWorker =
  /** To `attempt` and `reserve`: yes. */
  | { id: number; ok: true }
  /** To `attempt` and `reserve`: no; `why` for an attempt is "locked" or "busy", for a slot "limit". */
  | { id: number; ok: false; why: "locked" | "busy" | "limit"; retryAfterS: number }
  /** To `settle`: hold the 401 back this long; `lockedUntil` (ms since the epoch) when this failure locked the address. */
  | { id: number; delayMs: number; lockedUntil?: number }
  /** To every worker: `ip` is locked out until `until` (ms since the epoch). */
  | { op: "locked"; ip: string; until: number };

/** A message as one line of the link (newline included): a worker's stdout line starts with {@link LINK_MARK}. */
export function linkLine(message: ToSupervisor | ToWorker, mark = ""): string {
  return mark + JSON.stringify(message) + "\n";
}

/** A link line read back (without its newline, and without the mark for a worker's line), or null when it is not one. */
export function parseLinkLine<T extends ToSupervisor | ToWorker>(line: string): T | null {
  try {
    const m = JSON.parse(line) as unknown;
    return typeof m === "object" && m !== null ? m as T : null;
  } catch {
    return null;
  }
}

/** Calls `onLine` with each whole line (without its newline) of a byte or text stream. */
export function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = "";
  const decoder = new TextDecoder();
  stream.on("data", (chunk: string | Uint8Array) => {
    buf += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
    }
  });
}

/** A worker's end of the link: sends a message, and is told each message that comes back. */
export interface SupervisorLink {
  send(message: ToSupervisor): void;
  onMessage(listener: (message: ToWorker) => void): void;
}

/**
 * In a worker: the link to the supervisor over this process's stdin
 * (answers and notices, one JSON line each) and stdout (questions, one line
 * each after {@link LINK_MARK}).
 */
export function connectToSupervisor(
  stdin: NodeJS.ReadableStream = process.stdin,
  write: (line: string) => void = (line) => void process.stdout.write(line),
): SupervisorLink {
  const listeners: Array<(m: ToWorker) => void> = [];
  readLines(stdin, (line) => {
    const m = parseLinkLine<ToWorker>(line);
    if (m) { for (const l of listeners) l(m); }
  });
  return {
    send: (m) => write(linkLine(m, LINK_MARK)),
    onMessage: (l) => void listeners.push(l),
  };
}
