/**
 * The search worker (src/search_pool.ts starts it, one for the process):
 * runs every search it is given at once, each in slices of the engine
 * (src/scan/search.ts), and posts their events to the main thread, at most
 * {@link CREDIT} ahead of what the main thread has passed on. Line numbers
 * come from the main thread's line indexes (a `lineOf` question and its
 * answer); a search the main thread cancels stops within a slice.
 * @module
 */
import { CREDIT, type FromWorker, type LineOf, searchHere, type ToWorker } from "./search_pool.ts";

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

scope.onmessage = (e) => {
  const m = e.data;
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
    for await (const event of searchHere(m.job, r.stop.signal, lineOf)) {
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
