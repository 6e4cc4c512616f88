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
