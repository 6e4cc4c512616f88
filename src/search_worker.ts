/**
 * The search worker (src/search_pool.ts starts it, one for the process):
 * runs every search it is given at once, each in slices of the engine
 * (src/scan/search.ts), and posts their events to the main thread, at most
 * {@link CREDIT} ahead of what the main thread has passed on. Line numbers
 * come from the main thread's line indexes (a `lineOf` question and its
 * answer).
 *
 * Its searches take turns in slices (src/scan/search.ts `paceAsWorker`), and
 * its event loop runs every {@link WORKER_TURN_MS} of their work: a cancel
 * or a credit waits about that long. Before anything else it lowers its
 * thread's priority when the main thread says it may (`init`); else it
 * rests as long as it works while the main thread says it is busy.
 * @module
 */
import { setPriority } from "node:os";
import { paceAsWorker } from "./scan/search.ts";
import { CREDIT, type FromWorker, type LineOf, searchHere, type ToWorker, WORKER_TURN_MS } from "./search_pool.ts";

interface Running {
  stop: AbortController;
  credit: number;
  wake: (() => void) | null;
  asks: Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>;
}

/** The worker's side of the messages (typed here: the worker scope's own types are not in the server's lib). */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
};

const running = new Map<number, Running>();
/** Until when (performance.now()) the main thread counts as busy. */
let busyUntil = 0;

paceAsWorker({
  turnMs: WORKER_TURN_MS,
  // While the main thread is busy: rest as long as the searches worked (half the CPU), at least every slice.
  restMs: (worked) => (performance.now() < busyUntil ? worked : 0),
});

/** Lowers this thread's priority (on Linux a nice value is per thread: pid 0 is this thread alone). */
function lower(nice: number): boolean {
  try {
    setPriority(0, nice);
    return true;
  } catch {
    return false;
  }
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === "init") {
    scope.postMessage({ type: "ready", id: 0, niced: m.nice !== null && lower(m.nice) });
    return;
  }
  if (m.type === "busy") {
    busyUntil = performance.now() + m.forMs;
    return;
  }
  if (m.type === "search") {
    void run(m.id, m);
    return;
  }
  const r = running.get(m.id);
  if (!r) return;
  if (m.type === "cancel") r.stop.abort();
  else if (m.type === "credit") r.credit += m.n;
  else if (m.type === "line") {
    const a = r.asks.get(m.ask);
    r.asks.delete(m.ask);
    if (m.error !== undefined || m.n === undefined) a?.reject(new Error(m.error ?? "no line number"));
    else a?.resolve(m.n);
  }
  r.wake?.();
};

async function run(id: number, m: Extract<ToWorker, { type: "search" }>): Promise<void> {
  const r: Running = { stop: new AbortController(), credit: CREDIT, wake: null, asks: new Map() };
  running.set(id, r);
  let asked = 0;
  const lineOf: LineOf = (k, offset, file, signal) =>
    new Promise<number>((resolve, reject) => {
      const ask = ++asked;
      r.asks.set(ask, { resolve, reject });
      signal.addEventListener("abort", () => reject(new Error("the search stopped")), { once: true });
      scope.postMessage({ type: "lineOf", id, ask, k, offset, file });
    });
  try {
    for await (const event of searchHere(m.job, r.stop.signal, lineOf, true)) {
      while (r.credit <= 0 && !r.stop.signal.aborted) await new Promise<void>((w) => r.wake = w);
      if (r.stop.signal.aborted) break;
      r.credit--;
      scope.postMessage({ type: "event", id, event });
    }
    scope.postMessage({ type: "end", id });
  } catch (e) {
    scope.postMessage({ type: "error", id, message: e instanceof Error ? e.message : String(e) });
  } finally {
    running.delete(id);
  }
}
