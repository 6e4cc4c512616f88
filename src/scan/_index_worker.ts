/**
 * A line index build off the main thread: synchronous positioned reads of
 * 1 MiB and the shared counting step, reporting progress to the index about
 * every {@link REPORT_MS}. Started by src/scan/line_index.ts as a web
 * `Worker` (a module worker; both runtimes run it), one for the process,
 * taking jobs as messages, one at a time, until it has been idle for a
 * while. One, not one per build: Deno's web `Worker` constructor holds the
 * main thread for tens of milliseconds (its `node:worker_threads` one for
 * longer still), which live viewers should feel at most once.
 *
 * Synchronous reads are what make this as fast as `wc -l` (which reads the
 * same way): each asynchronous read is a round trip through the runtime's
 * thread pool, and on a busy 2-core machine those cost as much as the
 * copying (bench/scan.ts). Here they block nothing but this thread.
 *
 * The file is opened by path, so it is checked to be the device and inode
 * the index was given (the main thread opened and checked that one): a path
 * now naming another file ends the build with an error, before a byte is
 * counted. `O_NONBLOCK` keeps a FIFO put in its place from hanging the open.
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { emptyState, scanChunk, type ScanState, tailMatches } from "./_index_scan.ts";
import { NewlineScanner } from "./newlines.ts";

/** How often progress goes to the index: often enough that a waiting question is answered soon. */
const REPORT_MS = 10;

/** One build the index asks of the worker. */
export interface WorkerJob {
  /** Names the job in the reports. */
  id: number;
  path: string;
  dev: number;
  ino: number;
  /** Count up to here. */
  size: number;
  stride: number;
  chunk: number;
  state: ScanState;
  /** Set to 1 by the index to stop the job (a reset): checked after every read. On a SharedArrayBuffer. */
  cancel: Int32Array;
}

/** What the worker reports of a job: progress with the entries since the last report, a restart from 0, the end, or an error. */
export type WorkerReport =
  & { id: number }
  & (
    | { type: "progress"; state: ScanState; entries: Float64Array }
    | { type: "restart" }
    | { type: "done" }
    | { type: "error"; message: string }
  );

type Report = WorkerReport extends infer R ? R extends unknown ? Omit<R, "id"> : never : never;

function run(job: WorkerJob, post: (r: Report) => void): void {
  const fd = openSync(job.path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (st.dev !== job.dev || st.ino !== job.ino) throw new Error("the file was replaced while it was indexed");
    const scanner = buffer(job.chunk);
    let state = job.state;
    if (state.tail.length > 0) {
      const n = readSync(fd, scanner.buffer, 0, state.tail.length, state.indexed - state.tail.length);
      if (!tailMatches(state, scanner.buffer.slice(0, n))) {
        state = emptyState();
        post({ type: "restart" });
      }
    }
    let entries: number[] = [];
    let last = performance.now();
    const report = () => {
      post({ type: "progress", state, entries: new Float64Array(entries) });
      entries = [];
      last = performance.now();
    };
    while (state.indexed < job.size && Atomics.load(job.cancel, 0) === 0) {
      const n = readSync(fd, scanner.buffer, 0, Math.min(job.chunk, job.size - state.indexed), state.indexed);
      if (n === 0) throw new Error("the file shrank while it was indexed");
      scanChunk(state, scanner, n, job.stride, (offset, line) => entries.push(offset, line));
      if (performance.now() - last >= REPORT_MS) report();
    }
    report();
    post({ type: "done" });
  } finally {
    closeSync(fd);
  }
}

let scanner: NewlineScanner | null = null;

/** The worker's one read buffer, kept between jobs. */
function buffer(size: number): NewlineScanner {
  if (!scanner || scanner.buffer.length !== size) scanner = new NewlineScanner(size);
  return scanner;
}

/** The worker's side of the messages (typed here: the worker scope's own types are not in the server's lib). */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<WorkerJob>) => void) | null;
  postMessage(r: WorkerReport): void;
};

// Jobs come as messages and run one at a time: one waits in the queue while another runs.
scope.onmessage = (e) => {
  const id = e.data.id;
  try {
    run(e.data, (r) => scope.postMessage({ ...r, id }));
  } catch (err) {
    scope.postMessage({ id, type: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
