/**
 * `GET /search` (docs/protocol.md, "Search") against real servers on every
 * runtime: 30 markers planted in a 64 MiB log made at test time are found
 * with the exact line number, offset and text, newest first and forwards,
 * page by page with `limit` and `next`, by case and by regular expression;
 * `(a+)+$` on lines of long `a` runs costs the server CPU time of the class
 * of a literal search on the same file; a search whose client leaves stops
 * (the server's CPU time goes back to idle within a second); the third
 * search at once from one client address is refused with 429 (the address
 * as `--trust-proxy` gives it). Every event is checked against
 * docs/http.schema.json.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type BlockLog, type KnownLine, writeBlockLog } from "../helpers/block_log.ts";
import { EXPECT, RUNTIMES, type Server, startServer, waitFor } from "../helpers/harness.ts";
import { assertHttp, getJson, searchEvents } from "../helpers/http_schema.ts";

// Marker k: "MARKER-kk", "Marker-kk" or "marker-kk" by k % 3, padded to the field's 16 characters.
const MARKERS = Array.from({ length: 30 }, (_, k) => {
  const word = ["MARKER", "Marker", "marker"][k % 3]!;
  return `${word}-${String(k).padStart(2, "0")}`.padEnd(16, "-");
});
/**
 * A search that takes seconds: a regular expression no literal can stand in for, over 64 Mi empty lines
 * (each one goes through the engine: the cost is per line; a file of long lines is searched at ~75 MB/s).
 */
const SLOW = `q=${encodeURIComponent("[0-9]{7}[xy]")}&regex=1`;

const dir = await Deno.makeTempDir({ prefix: "filewatch-search-" });
let made: Promise<BlockLog> | null = null;
const markedLog = () => made ??= writeBlockLog(`${dir}/big.log`, 64, MARKERS);
let empty: Promise<string> | null = null;
const emptyLines = () =>
  empty ??= Deno.writeFile(`${dir}/empty.log`, new Uint8Array(64 << 20).fill(10)).then(() => `${dir}/empty.log`);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

type Match = KnownLine & { file?: string };
interface Done {
  done: true;
  matches: number;
  scanned: number;
  next?: number;
}

/** A search's matches and its last event (`done`), every event checked against the schema. */
async function search(s: Server, qs: string): Promise<{ matches: Match[]; done: Done; progress: number }> {
  const res = await fetch(s.url + "search?" + qs);
  assertEquals(res.status, 200, qs);
  assertEquals(res.headers.get("content-type"), "application/x-ndjson");
  const events = await searchEvents(res);
  const done = events.at(-1) as unknown as Done;
  assert(done?.done === true, `${qs}: ends with done: ${JSON.stringify(done)}`);
  const matches = events.filter((e) => "text" in e) as unknown as Match[];
  assertEquals(done.matches, matches.length);
  return { matches, done, progress: events.filter((e) => "scanned" in e && !("done" in e)).length };
}

/** All matches, page by page: each page from the last one's `next`. */
async function paged(s: Server, qs: string): Promise<{ matches: Match[]; pages: number }> {
  const all: Match[] = [];
  let from = "";
  for (let pages = 1;; pages++) {
    const r = await search(s, qs + from);
    all.push(...r.matches);
    if (r.done.next === undefined) return { matches: all, pages };
    from = `&from=${r.done.next}`;
  }
}

/** The server's CPU time so far, in clock ticks (user + system, /proc/PID/stat; 100 a second). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
}

/** A search started and read up to its first event: it is running; `stop()` leaves it as a client that goes away. */
async function started(s: Server, qs: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(s.url + "search?" + qs, { headers, signal: ac.signal });
  if (res.status !== 200) return { status: res.status, res, stop: () => res.body?.cancel() };
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert(!first.done, "a first event");
  assertHttp("searchEvent", JSON.parse(new TextDecoder().decode(first.value).split("\n")[0]!));
  return {
    status: 200,
    res,
    stop: async () => {
      ac.abort();
      await reader.cancel().catch(() => {});
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The nice value of each thread of process `pid` (/proc/PID/task/TID/stat, field 19), by thread id. */
async function threadNice(pid: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/stat`).catch(() => null);
    if (stat === null) continue; // a thread that ended meanwhile
    out.set(Number(t.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
  }
  return out;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("/search finds 30 planted markers exactly: newest first, forwards, page by page, by case and regex", async () => {
    const log = await markedLog();
    const s = await startServer(rt, { file: log.path, args: ["--tail", "64KiB"] });
    try {
      const planted = log.planted;
      assertEquals(planted.length, 30);
      const newest = [...planted].reverse();
      const back = await search(s, "q=marker-&limit=100");
      assertEquals(back.matches, newest);
      assertEquals(back.done.scanned, log.size);
      assertEquals((await search(s, "q=marker-&dir=fwd")).matches, planted);
      // Pages of 7 back and 10 forwards, each from the last one's `next`: the same lines, none twice.
      const pagesBack = await paged(s, "q=marker-&limit=7");
      assertEquals([pagesBack.matches, pagesBack.pages], [newest, 5]);
      const pagesFwd = await paged(s, "q=marker-&limit=10&dir=fwd");
      assertEquals(pagesFwd.matches, planted);
      // From the middle: back gives the lines starting before it, forwards those at or after it.
      const middle = planted[15]!.offset;
      assertEquals((await search(s, `q=MARKER-&from=${middle}`)).matches, newest.slice(15));
      assertEquals((await search(s, `q=MARKER-&from=${middle}&dir=fwd`)).matches, planted.slice(15));
      // Case: by default either; case=1 exactly.
      const mixed = planted.filter((l) => l.text.includes("Marker-"));
      assertEquals(mixed.length, 10);
      assertEquals((await search(s, "q=Marker-&case=1&dir=fwd")).matches, mixed);
      assertEquals((await search(s, "q=mArKeR-&dir=fwd")).matches, planted);
      // A regular expression: markers 00 to 14; with case=1 only those in capitals (every third).
      const re = encodeURIComponent("MARKER-(0[0-9]|1[0-4])-");
      assertEquals(
        (await search(s, `q=${re}&regex=1&case=1&dir=fwd`)).matches,
        planted.filter((l) => /MARKER-(0\d|1[0-4])-/.test(l.text)),
      );
      assertEquals((await search(s, `q=${re}&regex=1&dir=fwd`)).matches, planted.slice(0, 15));
      assertEquals((await search(s, "q=no-such-words")).matches, []);
    } finally {
      await s.stop();
    }
  });

  t("/search: (a+)+$ on lines of long a runs costs the server CPU of the class of a literal search", async () => {
    const d = await Deno.makeTempDir({ prefix: "filewatch-search-a-" });
    // 3,000 lines of 3,000 'a', all but 6 ending in 'b': a backtracking engine would never finish one.
    const lines = Array.from({ length: 3000 }, (_, i) => "a".repeat(3000) + (i % 500 === 7 ? "" : "b"));
    await Deno.writeTextFile(`${d}/a.log`, lines.join("\n") + "\n");
    const s = await startServer(rt, { file: `${d}/a.log`, args: ["--tail", "64KiB"] });
    try {
      await getJson(s.url + "lines?end=1&count=1", "lines"); // the line index, built before the clock starts
      const cost = async (qs: string) => {
        const before = await cpuTicks(s.pid);
        const r = await search(s, qs);
        return { ticks: (await cpuTicks(s.pid)) - before, matches: r.matches };
      };
      const literal = await cost("q=aaaac&case=1&limit=10000");
      const regex = await cost("q=(a%2B)%2B%24&regex=1&case=1&limit=10000&dir=fwd");
      assertEquals(regex.matches.map((m) => m.n), [8, 508, 1008, 1508, 2008, 2508]);
      assertEquals(literal.matches, []);
      // Measured here: about 4–6× the literal's CPU time; a backtracking engine: forever.
      const bound = 25 * Math.max(literal.ticks, 10);
      assert(regex.ticks <= bound, `(a+)+$ took ${regex.ticks} ticks, the literal ${literal.ticks}: over ${bound}`);
    } finally {
      await s.stop();
      await Deno.remove(d, { recursive: true });
    }
  });

  t(
    "/search: when its client leaves, a search stops and the server's CPU time is back to idle within 1 s",
    async () => {
      const log = await markedLog();
      const s = await startServer(rt, { file: log.path, args: ["--tail", "64KiB"] });
      try {
        // The index first: its build (a worker) must not be counted as the search's.
        await waitFor(async () => (await getJson<{ total: number }>(s.url + "lines?end=1", "lines")).total, 60_000);
        const search = await started(s, SLOW);
        await sleep(200);
        const b0 = await cpuTicks(s.pid);
        await sleep(700);
        const busy = (await cpuTicks(s.pid)) - b0;
        await search.stop();
        await sleep(1000);
        const i0 = await cpuTicks(s.pid);
        await sleep(1000);
        const idle = (await cpuTicks(s.pid)) - i0;
        assert(busy >= 5, `the search was running: ${busy} ticks in 0.7 s`);
        assert(idle <= 8, `${idle} ticks in the second after the first (${busy} in 0.7 s while searching)`);
      } finally {
        await s.stop();
      }
    },
  );

  t(
    `/search: the search worker's thread runs at nice ${EXPECT[rt].searchWorkerNice}, the server's own at 0`,
    async () => {
      const s = await startServer(rt, { file: await emptyLines(), args: ["--tail", "64KiB"] });
      try {
        const before = await threadNice(s.pid);
        const search = await started(s, SLOW);
        try {
          const during = await threadNice(s.pid);
          assertEquals(during.get(s.pid), 0, "the main thread keeps its priority");
          assertEquals([...before.values()].filter((n) => n !== 0), [], "no thread is lowered before a search");
          // The worker's thread is new with the first search; where it may, it lowered itself.
          const started = [...during].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice);
          assert(started.length > 0, "the search started a thread");
          assertEquals(Math.max(...during.values()), EXPECT[rt].searchWorkerNice, JSON.stringify([...during]));
        } finally {
          await search.stop();
        }
      } finally {
        await s.stop();
      }
    },
  );

  t("/search: the third search at once from one client address is 429 with Retry-After; others go on", async () => {
    const s = await startServer(rt, {
      file: await emptyLines(),
      args: ["--tail", "64KiB", "--trust-proxy", "127.0.0.1"],
    });
    const running: Awaited<ReturnType<typeof started>>[] = [];
    try {
      const from = (ip: string) => ({ "X-Forwarded-For": ip });
      for (let i = 0; i < 2; i++) {
        const one = await started(s, SLOW, from("192.0.2.1"));
        running.push(one);
        assertEquals(one.status, 200);
      }
      const third = await fetch(s.url + "search?" + SLOW, { headers: from("192.0.2.1") });
      assertEquals(third.status, 429);
      assertMatch(third.headers.get("retry-after") ?? "", /^\d+$/);
      assertEquals(await third.text(), "Too many searches: at most 2 at once per client\n");
      // Another address (as the trusted proxy says) is not held up by the first one's searches.
      const other = await started(s, SLOW, from("192.0.2.2"));
      running.push(other);
      assertEquals(other.status, 200);
      // A search that ends (its client left) gives its place back.
      await running[0]!.stop();
      const again = await waitFor(
        async () => {
          const r = await started(s, SLOW, from("192.0.2.1"));
          if (r.status === 200) return r;
          await r.stop();
          return null;
        },
        5_000,
        "a place for the first address",
      );
      running.push(again);
    } finally {
      for (const r of running) await r.stop();
      await s.stop();
    }
  });
}
