/**
 * The one index worker of the process (src/scan/_index_worker.ts): started
 * on the first build that wants it, given jobs as messages (it runs them one
 * at a time), and ended after {@link IDLE_MS} without one, so an idle server
 * holds no second isolate. Each job's reports go back to its handler by id.
 * @module
 */
import type { WorkerJob, WorkerReport } from "./_index_worker.ts";

/** How long the worker waits for another job before it ends (its start holds Deno's main thread for tens of ms). */
export const IDLE_MS = 30_000;

/** Where a job's reports go. */
export interface JobHandler {
  report(r: WorkerReport): void;
  /** The worker died (`started`) or could not start at all (then the caller builds on the main thread). */
  fail(e: Error, started: boolean): void;
}

let worker: Worker | null = null;
/** The current worker has said something: it started. */
let heard = false;
/** No worker can start in this process: every build is on the main thread. */
let unavailable = false;
const handlers = new Map<number, JobHandler>();
let nextId = 1;
let idle: ReturnType<typeof setTimeout> | undefined;

function start(): Worker | null {
  if (worker || unavailable) return worker;
  let w: Worker;
  try {
    w = new Worker(new URL("./_index_worker.ts", import.meta.url), { type: "module" });
  } catch {
    unavailable = true;
    return null;
  }
  heard = false;
  w.onmessage = (m: MessageEvent<WorkerReport>) => {
    heard = true;
    const r = m.data;
    const h = handlers.get(r.id);
    if (!h) return; // cancelled
    if (r.type === "done" || r.type === "error") {
      handlers.delete(r.id);
      idleLater();
    }
    h.report(r);
  };
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault(); // handled here, not the process's uncaught error
    const started = heard;
    if (!started) unavailable = true;
    end(new Error(`the index worker failed: ${e.message}`), started);
  };
  worker = w;
  return w;
}

/** Terminates the worker; the jobs it had fail. */
function end(e: Error, started: boolean): void {
  clearTimeout(idle);
  const w = worker;
  worker = null;
  w?.terminate();
  const failed = [...handlers.values()];
  handlers.clear();
  for (const h of failed) h.fail(e, started);
}

function idleLater(): void {
  clearTimeout(idle);
  if (handlers.size === 0 && worker) idle = setTimeout(() => end(new Error("the index worker ended"), true), IDLE_MS);
}

/**
 * Gives `job` to the worker. Returns a cancel function, or null when no
 * worker can run here (the caller builds on the main thread).
 */
export function submit(job: Omit<WorkerJob, "id" | "cancel">, handler: JobHandler): (() => void) | null {
  const w = start();
  if (!w) return null;
  clearTimeout(idle);
  const id = nextId++;
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  handlers.set(id, handler);
  w.postMessage({ ...job, id, cancel } satisfies WorkerJob);
  return () => {
    Atomics.store(cancel, 0, 1);
    if (handlers.delete(id)) idleLater();
  };
}

/** Ends the worker now (tests end it before their sanitizers look; a server ends with its process). */
export function closeIndexWorker(): void {
  end(new Error("the index worker was closed"), true);
}
