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
 * Both sides open files the same way: with `/raw`'s guarded open
 * (src/raw.ts `openForRead`), when the search reaches the file.
 * @module
 */
import { openForRead } from "./raw.ts";
import { type HistorySource, searchHistory, searchSource } from "./scan/history.ts";
import type { SearchEvent, SearchQuery } from "./scan/search.ts";

/** How long the worker waits for another search before it ends (its start holds Deno's main thread for tens of ms). */
export const IDLE_MS = 30_000;
/** Events a search may send ahead of what the main thread has passed on: a slow client slows its search. */
export const CREDIT = 64;

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

/** A job's events (matches, progress, `done`), computed on this thread. */
export function searchHere(job: SearchJob, signal: AbortSignal, lineOf: LineOf): AsyncIterable<SearchEvent> {
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
        return o.fh;
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
  | { type: "search"; id: number; job: SearchJob }
  | { type: "cancel"; id: number }
  | { type: "credit"; id: number; n: number }
  | { type: "line"; id: number; ask: number; n?: number; error?: string };

/** What the worker tells the main thread. */
export type FromWorker =
  | { type: "event"; id: number; event: SearchEvent }
  | { type: "end"; id: number }
  | { type: "error"; id: number; message: string }
  | { type: "lineOf"; id: number; ask: number; k: number; offset: number; file: { dev: number; ino: number } };

let worker: Worker | null = null;
let unavailable = false;
const jobs = new Map<number, (m: FromWorker | { type: "died"; message: string }) => void>();
let nextId = 1;
let idle: ReturnType<typeof setTimeout> | undefined;

function start(): Worker | null {
  if (worker || unavailable) return worker;
  let w: Worker;
  try {
    w = new Worker(new URL("./search_worker.ts", import.meta.url), { type: "module" });
  } catch {
    unavailable = true;
    return null;
  }
  w.onmessage = (m: MessageEvent<FromWorker>) => jobs.get(m.data.id)?.(m.data);
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault(); // handled here, not the process's uncaught error
    end(`the search worker failed: ${e.message}`);
  };
  worker = w;
  return w;
}

/** Terminates the worker; the searches it ran end with an error. */
function end(message: string): void {
  clearTimeout(idle);
  const w = worker;
  worker = null;
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
