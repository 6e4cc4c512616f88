/**
 * A line index build off the main thread: synchronous positioned reads of
 * 1 MiB and the shared counting step, reporting progress to the index about
 * every {@link REPORT_MS}. Started by src/scan/line_index.ts as a web
 * `Worker` (a module worker; both runtimes run it — Deno's
 * `node:worker_threads` constructor held the main thread for 100–260 ms, its
 * web `Worker` for ~15 ms); it takes one job as its first message and is
 * terminated when it reports the end.
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

/** What the index sends when it starts the worker. */
export interface WorkerJob {
  path: string;
  dev: number;
  ino: number;
  /** Count up to here. */
  size: number;
  stride: number;
  chunk: number;
  state: ScanState;
}

/** What the worker reports: progress with the entries since the last report, a restart from 0, the end, or an error. */
export type WorkerReport =
  | { type: "progress"; state: ScanState; entries: Float64Array }
  | { type: "restart" }
  | { type: "done" }
  | { type: "error"; message: string };

function run(job: WorkerJob, post: (r: WorkerReport) => void): void {
  const fd = openSync(job.path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (st.dev !== job.dev || st.ino !== job.ino) throw new Error("the file was replaced while it was indexed");
    const scanner = new NewlineScanner(job.chunk);
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
    while (state.indexed < job.size) {
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

/** The worker's side of the messages (typed here: the worker scope's own types are not in the server's lib). */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<WorkerJob>) => void) | null;
  postMessage(r: WorkerReport): void;
};

scope.onmessage = (e) => {
  scope.onmessage = null;
  try {
    run(e.data, (r) => scope.postMessage(r));
  } catch (err) {
    scope.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
