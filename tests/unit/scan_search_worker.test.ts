/**
 * src/search_pool.ts: how the search worker gives way to the main thread
 * where it cannot lower its priority (here: Deno without `--allow-sys`, and
 * no `lowerSearchPriority(true)`): while the main thread's probe timer runs
 * late, the worker rests as long as it works. Measured in the worker's CPU
 * time (the process's threads other than this one), which other load on the
 * machine can only lower.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { parseSearchQuery } from "../../src/scan/search.ts";
import { closeSearchWorker, runSearch, type SearchJob, searchWorkerYields } from "../../src/search_pool.ts";

/** CPU clock ticks (100 a second) of this process, and of this thread alone (where the test's code runs). */
function ticks(): { all: number; main: number } {
  const of = (path: string) => {
    const stat = Deno.readTextFileSync(path);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime
  };
  return { all: of("/proc/self/stat"), main: of("/proc/thread-self/stat") };
}
/** Ticks the other threads (the search worker's) used between two readings. */
const others = (a: { all: number; main: number }, b: { all: number; main: number }) =>
  (b.all - a.all) - (b.main - a.main);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "a search worker that keeps its priority rests half the time while the main thread is busy",
  // The worker's ops end with closeSearchWorker(), after the test's own checks.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "fw-search-worker-" });
    const path = `${dir}/empty.log`;
    // Empty lines and a regular expression no literal stands in for: every line goes through the engine (seconds).
    await Deno.writeFile(path, new Uint8Array(64 << 20).fill(10));
    const p = parseSearchQuery(new URLSearchParams(`q=${encodeURIComponent("[0-9]{7}[xy]")}&regex=1`), 64 << 20);
    assert(p.ok);
    const job: SearchJob = { sources: [{ path, name: "empty.log", numbered: false }], query: p.query, history: false };
    const ac = new AbortController();
    let ended = false;
    const consumed = (async () => {
      for await (const ev of runSearch(job, ac.signal, () => Promise.reject(new Error("no index")))) {
        if ("done" in ev) ended = true;
      }
    })();
    try {
      // The worker says how it yields once it has started (seconds on a busy machine).
      for (let i = 0; i < 1500 && searchWorkerYields() === null; i++) await sleep(20);
      assertEquals(searchWorkerYields(), "rest", "the worker kept its priority");
      // The main thread idle: the worker runs flat out.
      await sleep(300);
      const a0 = ticks();
      await sleep(700);
      const idleTicks = others(a0, ticks());
      // The main thread busy: 45 ms of work at a time with 5 ms between. The first late tick tells the worker.
      const block = (ms: number) => {
        const end = performance.now() + ms;
        while (performance.now() < end);
      };
      const busyFor = async (ms: number) => {
        const end = performance.now() + ms;
        while (performance.now() < end) {
          block(45);
          await sleep(5);
        }
      };
      await busyFor(400);
      const b0 = ticks(), t0 = performance.now();
      await busyFor(1200);
      const busyTicks = others(b0, ticks());
      const wallTicks = (performance.now() - t0) / 10;
      assert(!ended, "the search ended before it could be measured: make its file larger");
      assert(idleTicks >= 5, `the worker was not running while the main thread was idle: ${idleTicks} ticks in 0.7 s`);
      // Resting as long as it works: half a core at most (plus the runtime's other threads' bit), however busy
      // the machine is; without the rests, a core.
      assert(
        busyTicks <= wallTicks * 0.7,
        `${busyTicks} ticks of the worker in ${Math.round(wallTicks)} while the main thread was busy ` +
          `(${idleTicks} in 70 while it was idle)`,
      );
    } finally {
      ac.abort();
      await consumed.catch(() => {});
      closeSearchWorker();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
