/**
 * Searches off the main thread: one worker for the process
 * (src/search_worker.ts) runs every search at once, each in slices
 * (src/scan/search.ts), started on the first search and ended after
 * {@link IDLE_MS} without one. The main thread only passes the events on,
 * and answers the worker's questions for line numbers from its line indexes,
 * so live viewers do not wait behind a search: with the searches on the main
 * thread, 4 of them moved the p99 of 1k viewers' latency 5–9× (bench/searchload.ts).
 * Where no worker can start, a search runs on the main thread.
 *
 * The worker gives way to live viewers: where it may (Linux, and a runtime
 * that lets it: {@link lowerSearchPriority}), it lowers its own thread's
 * scheduling priority (nice {@link WORKER_NICE}), so the kernel runs it on
 * what CPU the viewers leave; elsewhere the main thread times a probe timer
 * and, while it runs late (the main thread is busy), asks the worker to
 * rest as long as it works ({@link LAG_MS}, {@link BUSY_MS}).
 *
 * Both sides open files the same way: with `/raw`'s guarded open
 * (src/raw.ts `openForRead`), when the search reaches the file. The worker
 * then reads with synchronous positioned reads, as the index worker does.
 * @module
 */
import { readSync } from "node:fs";
import process from "node:process";
import type { IndexHandle } from "./scan/_file.ts";
import { openForRead } from "./raw.ts";
import { type HistorySource, searchHistory, searchSource } from "./scan/history.ts";
import type { SearchEvent, SearchQuery } from "./scan/search.ts";

/** How long the worker waits for another search before it ends (its start holds Deno's main thread for tens of ms). */
export const IDLE_MS = 30_000;
/** Events a search may send ahead of what the main thread has passed on: a slow client slows its search. */
export const CREDIT = 64;
/** The worker thread's nice value where it may lower its priority (0 is normal, 19 the lowest). */
export const WORKER_NICE = 10;
/** The most work (ms) between two turns of the worker's event loop: a cancel waits at most about this long. */
export const WORKER_TURN_MS = 40;
/** How often the main thread's probe timer ticks while searches run in a worker that kept its priority. */
export const PROBE_MS = 20;
/** A probe this late (ms) means the main thread is busy: the worker then rests as long as it works. */
export const LAG_MS = 10;
/** How long (ms) the worker rests half the time after the main thread was last seen busy. */
export const BUSY_MS = 1_000;

/** One file of a search, as both threads know it. */
export interface SourceSpec {
  path: string;
  /** Its name (a history search's matches carry it). */
  name: string;
  /** The size to search up to (known for the first file searched, and generations as listed). */
  size?: number;
  /** `--dir`'s real path, and `--allow-hardlinks`: what the guarded open checks. */
  root?: string;
  allowHardlinks?: boolean;
  /** Its line numbers come from the main thread's line index (see {@link LineOf}). */
  numbered: boolean;
}

/** A search as the worker is given it. */
export interface SearchJob {
  sources: SourceSpec[];
  query: SearchQuery;
  /** `history=1`: every source, each match naming its file; else the first alone. */
  history: boolean;
}

/**
 * The number of the line starting at `offset` in source `k`, the file with
 * that device and inode (the one the search opened): answered by the main
 * thread's line index. Throws when the index cannot say (the search then
 * counts for itself).
 */
export type LineOf = (
  k: number,
  offset: number,
  file: { dev: number; ino: number },
  signal: AbortSignal,
) => Promise<number>;

/**
 * A handle whose reads are synchronous (`readSync`): in the worker a read
 * needs no turn of its event loop nor a thread of the runtime's pool
 * (measured on Bun: half the time of `FileHandle.read` into the same
 * buffer, and no 4 MiB of garbage per window).
 */
export function readingSync(fh: IndexHandle & { fd: number }): IndexHandle {
  return {
    // deno-lint-ignore require-await
    read: async (buffer, offset, length, position) => ({
      bytesRead: readSync(fh.fd, buffer, offset, length, position),
    }),
    stat: () => fh.stat(),
    close: () => fh.close(),
  };
}

/**
 * A job's events (matches, progress, `done`), computed on this thread;
 * `syncReads` in a thread of searches (the worker), never on the main thread.
 */
export function searchHere(
  job: SearchJob,
  signal: AbortSignal,
  lineOf: LineOf,
  syncReads = false,
): AsyncIterable<SearchEvent> {
  const sources = job.sources.map((s, k): HistorySource => {
    let who: { dev: number; ino: number } | null = null;
    const src: HistorySource = {
      path: s.path,
      name: s.name,
      ...(s.size !== undefined ? { size: s.size } : {}),
      open: async () => {
        const o = await openForRead(s.path, s.name, s.root, s.allowHardlinks);
        if (o instanceof Response) throw new Error((await o.text()).trim());
        who = { dev: o.dev, ino: o.ino };
        return syncReads ? readingSync(o.fh) : o.fh;
      },
    };
    // Asked after `open`: the numbers are those of the very file searched.
    if (s.numbered) src.lineOf = (offset, sig) => lineOf(k, offset, who!, sig);
    return src;
  });
  return job.history
    ? searchHistory(sources, job.query, signal)
    : searchSource({ ...sources[0]!, name: undefined }, job.query, signal);
}

/** What the main thread tells the worker. */
export type ToWorker =
  /** First: the nice value to take (null: keep the priority). */
  | { type: "init"; nice: number | null }
  /** The main thread is busy: rest half the time for `forMs`. */
  | { type: "busy"; forMs: number }
  | { type: "search"; id: number; job: SearchJob }
  | { type: "cancel"; id: number }
  | { type: "credit"; id: number; n: number }
  | { type: "line"; id: number; ask: number; n?: number; error?: string };

/** What the worker tells the main thread. */
export type FromWorker =
  /** After `init`: whether the worker's thread now runs at the lower priority. */
  | { type: "ready"; id: 0; niced: boolean }
  | { type: "event"; id: number; event: SearchEvent }
  | { type: "end"; id: number }
  | { type: "error"; id: number; message: string }
  | { type: "lineOf"; id: number; ask: number; k: number; offset: number; file: { dev: number; ino: number } };

let worker: Worker | null = null;
let unavailable = false;
const jobs = new Map<number, (m: FromWorker | { type: "died"; message: string }) => void>();
let nextId = 1;
let idle: ReturnType<typeof setTimeout> | undefined;
/** Whether the runtime lets a thread lower its own priority without asking (see {@link lowerSearchPriority}). */
let mayLower = false;
/** The worker's answer to `init`: null until it came. */
let niced: boolean | null = null;
let probe: ReturnType<typeof setInterval> | undefined;

/**
 * Whether the search worker may lower its thread's priority: the runtime
 * lets it without a permission prompt (src/main.ts passes the launcher's
 * `threadPriority`). Only on Linux, where a nice value is a thread's own
 * (elsewhere `setpriority` would lower the whole server's). Applies to the
 * next worker started.
 */
export function lowerSearchPriority(allowed: boolean): void {
  mayLower = allowed;
}

/** How the running worker gives way to the main thread: `nice` (its priority), `rest` (the probe), or null (none running, or not told yet). */
export function searchWorkerYields(): "nice" | "rest" | null {
  return worker === null || niced === null ? null : niced ? "nice" : "rest";
}

function start(): Worker | null {
  if (worker || unavailable) return worker;
  let w: Worker;
  try {
    w = new Worker(new URL("./search_worker.ts", import.meta.url), { type: "module" });
  } catch {
    unavailable = true;
    return null;
  }
  niced = null;
  w.onmessage = (m: MessageEvent<FromWorker>) => {
    if (m.data.type === "ready") {
      niced = m.data.niced;
      if (!niced && jobs.size) watchLag();
      return;
    }
    jobs.get(m.data.id)?.(m.data);
  };
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault(); // handled here, not the process's uncaught error
    end(`the search worker failed: ${e.message}`);
  };
  worker = w;
  const nice = mayLower && process.platform === "linux" ? WORKER_NICE : null;
  w.postMessage({ type: "init", nice } satisfies ToWorker);
  return w;
}

/**
 * While searches run in a worker that kept its priority: a timer that ticks
 * every {@link PROBE_MS}; one {@link LAG_MS} late means the main thread was
 * busy (fanning out, or waiting for a core), and the worker is asked to rest
 * as long as it works for the next {@link BUSY_MS}. Costs the main thread a
 * timer turn per tick, and only while searches run.
 */
function watchLag(): void {
  if (probe !== undefined || niced !== false) return;
  let last = performance.now();
  let told = -Infinity;
  probe = setInterval(() => {
    const now = performance.now();
    const late = now - last - PROBE_MS;
    last = now;
    if (jobs.size === 0 || worker === null) {
      clearInterval(probe);
      probe = undefined;
      return;
    }
    // Told again before the last one runs out, not at every tick.
    if (late >= LAG_MS && now - told >= BUSY_MS / 4) {
      told = now;
      worker.postMessage({ type: "busy", forMs: BUSY_MS } satisfies ToWorker);
    }
  }, PROBE_MS);
}

/** Terminates the worker; the searches it ran end with an error. */
function end(message: string): void {
  clearTimeout(idle);
  clearInterval(probe);
  probe = undefined;
  const w = worker;
  worker = null;
  niced = null;
  w?.terminate();
  for (const h of [...jobs.values()]) h({ type: "died", message });
}

function idleLater(): void {
  clearTimeout(idle);
  if (jobs.size === 0 && worker) idle = setTimeout(() => end("the search worker ended"), IDLE_MS);
}

/** Ends the worker now (tests end it before their sanitizers look; a server ends with its process). */
export function closeSearchWorker(): void {
  end("the search worker was closed");
}

/**
 * A job's events, computed in the worker (here when no worker can start).
 * The search stops when `signal` aborts or the consumer stops reading.
 */
export function runSearch(job: SearchJob, signal: AbortSignal, lineOf: LineOf): AsyncIterable<SearchEvent> {
  const w = start();
  return w ? inWorker(w, job, signal, lineOf) : searchHere(job, signal, lineOf);
}

async function* inWorker(w: Worker, job: SearchJob, signal: AbortSignal, lineOf: LineOf): AsyncGenerator<SearchEvent> {
  clearTimeout(idle);
  const id = nextId++;
  const queue: SearchEvent[] = [];
  let ended = false;
  let failure: string | null = null;
  let wake: (() => void) | null = null;
  const asking = new AbortController();
  const post = (m: ToWorker) => w.postMessage(m);
  jobs.set(id, (m) => {
    if (m.type === "event") queue.push(m.event);
    else if (m.type === "end") ended = true;
    else if (m.type === "error" || m.type === "died") {
      failure = m.message;
      ended = true;
    } else if (m.type === "lineOf") {
      lineOf(m.k, m.offset, m.file, asking.signal).then(
        (n) => post({ type: "line", id, ask: m.ask, n }),
        (e) => post({ type: "line", id, ask: m.ask, error: String((e as Error)?.message ?? e) }),
      );
      return;
    }
    wake?.();
  });
  const cancel = () => {
    if (!ended && worker === w) post({ type: "cancel", id });
  };
  signal.addEventListener("abort", cancel, { once: true });
  post({ type: "search", id, job });
  if (niced === false) watchLag();
  let passed = 0;
  try {
    for (;;) {
      while (queue.length) {
        yield queue.shift()!;
        if (++passed % (CREDIT / 2) === 0) post({ type: "credit", id, n: CREDIT / 2 });
      }
      if (ended) break;
      await new Promise<void>((r) => wake = r);
      wake = null;
    }
    if (failure !== null) yield { done: true, matches: 0, scanned: 0, error: failure };
  } finally {
    signal.removeEventListener("abort", cancel);
    cancel();
    asking.abort();
    jobs.delete(id);
    idleLater();
  }
}
