/**
 * src/scan/search.ts: whole-file search against a file made here, with the
 * expected answers computed from the file's own lines (a plain scan), so
 * every n, offset and text is checked exactly.
 */
import { open } from "node:fs/promises";
import process from "node:process";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  compileMatcher,
  LINE_CUT,
  ndjsonBody,
  paceAsWorker,
  parseSearchQuery,
  requiredLiterals,
  type SearchEvent,
  type SearchFile,
  searchFile,
  SearchLimiter,
  type SearchMatch,
  type SearchQuery,
  WINDOW,
} from "../../src/scan/search.ts";
import { readingSync } from "../../src/search_pool.ts";

const enc = new TextEncoder();

/** A log of `lines` lines with markers planted at known lines; returns its lines. */
function makeLog(lines: number, markers: Map<number, string>): string[] {
  const out: string[] = [];
  let s = 7;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  const words = ["GET", "POST", "user", "alpha", "beta", "request", "done", "slow", "ok"];
  for (let i = 1; i <= lines; i++) {
    const n = 3 + Math.floor(rnd() * 12);
    let l = `2026-12-06T00:00:${String(i % 60).padStart(2, "0")}Z INFO`;
    for (let k = 0; k < n; k++) l += " " + words[Math.floor(rnd() * words.length)] + Math.floor(rnd() * 1000);
    const m = markers.get(i);
    if (m) l += ` ${m} end`;
    out.push(l);
  }
  return out;
}

interface Fixture {
  path: string;
  lines: string[];
  offsets: number[];
  size: number;
  done: () => Promise<void>;
}

async function fixture(lines: string[], trailingNewline = true, raw?: Uint8Array): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "fw-search-" });
  const path = `${dir}/app.log`;
  const bytes = raw ?? enc.encode(lines.join("\n") + (trailingNewline ? "\n" : ""));
  await Deno.writeFile(path, bytes);
  const offsets: number[] = [];
  let o = 0;
  for (const l of lines) {
    offsets.push(o);
    o += enc.encode(l).length + 1;
  }
  return { path, lines, offsets, size: bytes.length, done: () => Deno.remove(dir, { recursive: true }) };
}

async function run(file: SearchFile, qs: string, size: number, signal = new AbortController().signal) {
  const p = parseSearchQuery(new URLSearchParams(qs), size);
  if (!p.ok) throw new Error(p.reason);
  const events: SearchEvent[] = [];
  for await (const ev of searchFile(file, p.query, signal)) events.push(ev);
  const matches = events.filter((e): e is SearchMatch => "text" in e);
  const done = events.at(-1);
  assert(done !== undefined && "done" in done, "the last event is done");
  return { matches, done };
}

/** What a search must find: the lines `pred` accepts, as {n, offset, text}. */
function expected(f: Fixture, pred: (l: string) => boolean): SearchMatch[] {
  const out: SearchMatch[] = [];
  f.lines.forEach((text, i) => {
    if (pred(text)) out.push({ n: i + 1, offset: f.offsets[i]!, text });
  });
  return out;
}

const MARKERS = new Map<number, string>();
for (let k = 0; k < 30; k++) MARKERS.set(1 + Math.floor((k * 9973) % 60000), `MARK-${k}-Ωx`);

Deno.test("searchFile() finds 30 planted markers with exact n, offset and text, newest first and forward", async () => {
  // ~4.5 MiB: more than one read window, so windows and their edges are crossed.
  const f = await fixture(makeLog(60000, MARKERS));
  try {
    assert(f.size > WINDOW, "the file spans more than one window");
    const want = expected(f, (l) => l.includes("MARK-"));
    assertEquals(want.length, 30);
    const back = await run({ path: f.path }, "q=mark-", f.size);
    assertEquals(back.matches, [...want].reverse());
    assertEquals(back.done, { done: true, matches: 30, scanned: f.size });
    const fwd = await run({ path: f.path }, "q=MARK-&dir=fwd", f.size);
    assertEquals(fwd.matches, want);
    // With a line index given, the same numbers.
    const lineOf = (o: number) => Promise.resolve(f.offsets.filter((x) => x < o).length + 1);
    assertEquals((await run({ path: f.path, lineOf }, "q=MARK-", f.size)).matches, [...want].reverse());
  } finally {
    await f.done();
  }
});

Deno.test("searchFile() honours limit, from and dir, and says where to go on", async () => {
  const f = await fixture(makeLog(60000, MARKERS));
  try {
    const want = expected(f, (l) => l.includes("MARK-"));
    const first = await run({ path: f.path }, "q=MARK-&limit=7", f.size);
    assertEquals(first.matches, want.slice(-7).reverse());
    assertEquals(first.done.next, want.at(-7)!.offset);
    const second = await run({ path: f.path }, `q=MARK-&limit=7&from=${first.done.next}`, f.size);
    assertEquals(second.matches, want.slice(-14, -7).reverse());
    const fwd = await run({ path: f.path }, "q=MARK-&limit=5&dir=fwd", f.size);
    assertEquals(fwd.matches, want.slice(0, 5));
    const on = await run({ path: f.path }, `q=MARK-&limit=5&dir=fwd&from=${fwd.done.next}`, f.size);
    assertEquals(on.matches, want.slice(5, 10));
    // A `from` inside a line: forward starts at the next line, backward includes that line.
    const mid = want[3]!.offset + 5;
    assertEquals((await run({ path: f.path }, `q=MARK-&dir=fwd&limit=1&from=${mid}`, f.size)).matches, [want[4]!]);
    assertEquals((await run({ path: f.path }, `q=MARK-&limit=1&from=${mid}`, f.size)).matches, [want[3]!]);
  } finally {
    await f.done();
  }
});

Deno.test("searchFile() is case-insensitive by default and case-sensitive with case=1", async () => {
  const lines = ["an Error here", "ERROR two", "no match", "error three", "Ωmega ωmega", "tschüß"];
  const f = await fixture(lines);
  try {
    assertEquals((await run({ path: f.path }, "q=error&dir=fwd", f.size)).matches.map((m) => m.n), [1, 2, 4]);
    assertEquals((await run({ path: f.path }, "q=error&dir=fwd&case=1", f.size)).matches.map((m) => m.n), [4]);
    assertEquals((await run({ path: f.path }, "q=ERROR&dir=fwd&case=1", f.size)).matches.map((m) => m.n), [2]);
    // Non-ASCII letters fold too (by the engine, past the byte search).
    assertEquals((await run({ path: f.path }, "q=%CE%A9MEGA&dir=fwd", f.size)).matches.map((m) => m.n), [5]);
    assertEquals((await run({ path: f.path }, "q=SCH%C3%9C&dir=fwd", f.size)).matches.map((m) => m.n), [6]);
  } finally {
    await f.done();
  }
});

Deno.test("searchFile() with regex=1 matches RE2 expressions per line", async () => {
  const f = await fixture(makeLog(60000, MARKERS));
  try {
    const re = /MARK-(1\d|2\d)-/;
    const want = expected(f, (l) => re.test(l));
    assertEquals(want.length, 20);
    assertEquals((await run({ path: f.path }, "q=mark-(1%5Cd|2%5Cd)-&regex=1&dir=fwd", f.size)).matches, want.slice(0));
    // Anchors are per line; no literal to look for at all.
    const ends = expected(f, (l) => /\d end$/.test(l));
    assertEquals((await run({ path: f.path }, "q=%5Cd%20end%24&regex=1&dir=fwd", f.size)).matches, ends);
    const digits = expected(f, (l) => /^\S+ INFO \w+9\d\d /.test(l));
    assert(digits.length > 100 && digits.length < 10000, `${digits.length} lines`);
    assertEquals(
      (await run({ path: f.path }, "q=%5E%5CS%2B INFO %5Cw%2B9%5Cd%5Cd &regex=1&limit=10000", f.size)).matches,
      digits.reverse(),
    );
  } finally {
    await f.done();
  }
});

Deno.test("requiredLiterals() only returns literals every match contains", () => {
  assertEquals(requiredLiterals("ERROR.*timeout", false), ["timeout"]);
  assertEquals(requiredLiterals("(warn|error) [0-9]+", false), ["warn", "error"]);
  assertEquals(requiredLiterals("\\d+", false), null);
  assertEquals(requiredLiterals("ab?c", false), ["a"]);
  assertEquals(requiredLiterals("colou?r", false), ["colo"]);
  assertEquals(requiredLiterals('\\{"level":"error"', false), ['{"level":"error"']);
  assertEquals(requiredLiterals('{"level":"error"}', false), ['{"level":"error"}']);
  assertEquals(requiredLiterals("x{2}yz", false), ["yz"]);
  assertEquals(requiredLiterals("(?i)abc", false), null);
  assertEquals(requiredLiterals("(?i)abc", true), ["abc"]);
  assertEquals(requiredLiterals("a|b.*|c", false), ["a", "b", "c"]);
  assertEquals(requiredLiterals("a|.*|c", false), null);
  assertEquals(requiredLiterals("(a+)+$", false), ["a"]);
  assertEquals(requiredLiterals("élan vital", true), ["lan vital"]);
  // Against the engine on random lines: a line without the literal never matches.
  const pats = ["a(b|cd)+e", "x[yz]*w?q", "(foo|ba(r|z))\\.", "h.l+o", "(?:ab){2,}c", "\\Qa.b\\E+", "p(?P<n>qr)s"];
  let s = 3;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  for (const p of pats) {
    const lits = requiredLiterals(p, false);
    assert(lits !== null, p);
    const m = compileMatcher({
      q: p,
      regex: true,
      caseSensitive: true,
      from: null,
      dir: "fwd",
      limit: 1,
      history: false,
    });
    for (let k = 0; k < 3000; k++) {
      let line = "";
      for (let j = 0; j < 12; j++) line += "abcdefhlopqrswxyz.()"[Math.floor(rnd() * 20)];
      if (m.test(line)) assert(lits.some((l) => line.includes(l)), `${p} matched ${line} without ${lits}`);
    }
  }
});

Deno.test("searchFile() runs (a+)+$ on long a-runs in linear time", async () => {
  // 200 lines of 20,000 'a' ending in 'b' (no match) and 3 that match.
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) lines.push("a".repeat(20000) + (i % 67 === 5 ? "" : "b"));
  const f = await fixture(lines);
  try {
    const t0 = performance.now();
    const r = await run({ path: f.path }, "q=(a%2B)%2B%24&regex=1&case=1&dir=fwd", f.size);
    const ms = performance.now() - t0;
    assertEquals(r.matches.map((m) => m.n), [6, 73, 140]);
    // A backtracking engine takes longer than the age of the universe here; linear time is well under a minute.
    assert(ms < 30_000, `took ${ms} ms`);
  } finally {
    await f.done();
  }
});

Deno.test("searchFile() cuts long lines, shows bad UTF-8 as U+FFFD, and finds lines longer than a window", async () => {
  const long = "x".repeat(LINE_CUT + 10) + " NEEDLE";
  const huge = "y".repeat(WINDOW + 1000) + " NEEDLE tail";
  const bytes = new Uint8Array([
    ...enc.encode("first NEEDLE\n"),
    ...enc.encode("bad "),
    0xff,
    0xfe,
    ...enc.encode(" NEEDLE\n"),
    ...enc.encode(long + "\n"),
    ...enc.encode(huge + "\n"),
    ...enc.encode("last NEEDLE"),
  ]);
  const f = await fixture([], false, bytes);
  try {
    for (const dir of ["fwd", "back"]) {
      const r = await run({ path: f.path }, `q=needle&dir=${dir}`, f.size);
      const ms = dir === "fwd" ? r.matches : [...r.matches].reverse();
      assertEquals(ms.map((m) => m.n), [1, 2, 3, 4, 5], dir);
      assertEquals(ms[0], { n: 1, offset: 0, text: "first NEEDLE" });
      assertEquals(ms[1]!.text, "bad \uFFFD\uFFFD NEEDLE");
      assertEquals(ms[2]!.cut, true);
      assertEquals(ms[2]!.bytes, long.length);
      assertEquals(ms[2]!.text, "x".repeat(LINE_CUT));
      assertEquals([ms[3]!.offset, ms[3]!.cut, ms[3]!.bytes], [13 + 14 + long.length + 1, true, huge.length]);
      assertEquals(ms[4], { n: 5, offset: f.size - 11, text: "last NEEDLE" });
    }
    // A regular expression too, in both directions.
    const re = await run({ path: f.path }, "q=ne%2Bdle&regex=1", f.size);
    assertEquals(re.matches.map((m) => m.n), [5, 4, 3, 2, 1]);
  } finally {
    await f.done();
  }
});

Deno.test("searchFile() stops within 100 ms of its signal aborting, and sends progress meanwhile", async () => {
  // A regular expression without a literal runs line by line in the engine: slow enough to abort mid-way.
  const f = await fixture(makeLog(600000, new Map()));
  try {
    const ac = new AbortController();
    const p = parseSearchQuery(new URLSearchParams("q=%5Ba-z%5D%2B%5Cd%7B4%7D%5Bxz%5D&regex=1"), f.size);
    assert(p.ok);
    const events: SearchEvent[] = [];
    // The work done after the abort is measured in this process's CPU time, so other load on the machine (which
    // stretches wall time) cannot fail it, while a search that ignored the signal would go on for its whole scan.
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    let abortedAt = 0;
    const t0 = performance.now();
    setTimeout(() => {
      abortedAt = cpuMs();
      ac.abort();
    }, 400);
    for await (const ev of searchFile({ path: f.path }, p.query, ac.signal)) events.push(ev);
    const after = cpuMs() - abortedAt;
    assert(abortedAt > 0, `the search ended before the abort (${performance.now() - t0} ms)`);
    assert(after < 100, `the search went on for ${Math.round(after)} ms of CPU after the abort`);
    assert(!events.some((e) => "done" in e), "an aborted search sends no done");
    assert(events.some((e) => "scanned" in e && "size" in e), "progress was sent");
  } finally {
    await f.done();
  }
});

Deno.test("searchFile() leaves the event loop free: little CPU time passes between two timer ticks", async () => {
  const f = await fixture(makeLog(150000, new Map()));
  try {
    const p = parseSearchQuery(new URLSearchParams("q=%5Ba-z%5D%2B%5Cd%7B4%7D%5Bxz%5D&regex=1&limit=1"), f.size);
    assert(p.ok);
    // Measured in this process's CPU time, not wall time, so other load on the machine cannot fail it: a scan that
    // yields every slice (SLICE_MS, 8 ms) spends about a slice between two 5 ms ticks; one that never yields spends
    // the whole scan (hundreds of ms).
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    let worst = 0, last = cpuMs();
    const ac = new AbortController();
    const cpu0 = cpuMs();
    const timer = setInterval(() => {
      const now = cpuMs();
      worst = Math.max(worst, now - last);
      last = now;
      // Stopped after enough CPU time to tell, however long that takes on a busy machine.
      if (now - cpu0 > 300) ac.abort();
    }, 5);
    for await (const _ of searchFile({ path: f.path }, p.query, ac.signal));
    const spent = cpuMs() - cpu0;
    clearInterval(timer);
    assert(spent > 150, `the search ended too soon to tell (${spent} ms of CPU)`);
    assert(worst < 60, `${Math.round(worst)} ms of CPU went by between two ticks of a 5 ms timer`);
  } finally {
    await f.done();
  }
});

Deno.test("paced as a thread of searches, a search lets the event loop run every ~40 ms of work, not every slice, and stops within 100 ms of an abort", async () => {
  const f = await fixture(makeLog(600000, new Map()));
  // Each slice's end asks how long to rest: a count of slices.
  let slices = 0;
  paceAsWorker({
    turnMs: 40,
    restMs: () => {
      slices++;
      return 0;
    },
  });
  try {
    const p = parseSearchQuery(new URLSearchParams("q=%5Ba-z%5D%2B%5Cd%7B4%7D%5Bxz%5D&regex=1"), f.size);
    assert(p.ok);
    // CPU time, not wall time (see the tests above). A 5 ms timer ticks at most about once per turn of the event loop.
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const ac = new AbortController();
    const cpu0 = cpuMs();
    let ticks = 0, worst = 0, last = cpu0, abortedAt = 0;
    const timer = setInterval(() => {
      const now = cpuMs();
      ticks++;
      worst = Math.max(worst, now - last);
      last = now;
      if (abortedAt === 0 && now - cpu0 > 400) {
        abortedAt = now;
        ac.abort();
      }
    }, 5);
    const events: SearchEvent[] = [];
    try {
      // Synchronous reads, as the worker reads (src/search_pool.ts): an asynchronous read is a turn of the event
      // loop of its own, and the timer would tick at every window however the searches are paced.
      const file = { path: f.path, open: async () => readingSync(await open(f.path, "r")) };
      for await (const ev of searchFile(file, p.query, ac.signal)) events.push(ev);
    } finally {
      clearInterval(timer);
    }
    const after = cpuMs() - abortedAt;
    assert(abortedAt > 0, "the search ended before the abort");
    assert(after < 100, `the search went on for ${Math.round(after)} ms of CPU after the abort`);
    assert(!events.some((e) => "done" in e), "an aborted search sends no done");
    // Turns come every 5 slices (40 ms / 8 ms), each letting the timer tick about once; a turn after every slice
    // (the main thread's pacing) lets it tick after nearly every slice.
    assert(slices >= 20, `${slices} slices: the search ended too soon to tell`);
    assert(ticks <= slices * 0.6, `${ticks} ticks in ${slices} slices: the event loop ran nearly every slice`);
    // The process's CPU: the runtime's own threads (GC, the compiler) add to the search's ~40 ms between turns. A
    // search that never let the loop run would show its whole 400 ms and more.
    assert(worst < 200, `${Math.round(worst)} ms of CPU went by between two ticks`);
  } finally {
    paceAsWorker(null);
    await f.done();
  }
});

Deno.test("parseSearchQuery() refuses bad input with a reason", () => {
  const bad = (qs: string, size = 100) => {
    const r = parseSearchQuery(new URLSearchParams(qs), size);
    assert(!r.ok, qs);
    return r.reason;
  };
  assertMatch(bad(""), /"q" is required/);
  assertMatch(bad("q="), /"q" is required/);
  assertMatch(bad("q=" + "x".repeat(1001)), /1001 characters/);
  assertMatch(bad("q=(a&regex=1"), /not a valid regular expression: .*missing/i);
  assertMatch(bad("q=a&limit=0"), /"limit" must be an integer from 1 to 10000, got "0"/);
  assertMatch(bad("q=a&limit=10001"), /"limit"/);
  assertMatch(bad("q=a&limit=1e3"), /"limit"/);
  assertMatch(bad("q=a&from=101"), /"from" must be an integer from 0 to 100/);
  assertMatch(bad("q=a&from=-1"), /"from"/);
  assertMatch(bad("q=a&dir=up"), /"dir" must be "back" or "fwd", got "up"/);
  assertMatch(bad("q=a&case=yes"), /"case" must be 0 or 1/);
  assertMatch(bad("q=a%0Ab"), /line break/);
  const ok = parseSearchQuery(new URLSearchParams("q=x&regex=1&case=1&from=5&dir=fwd&limit=9&history=1"), 100);
  assertEquals(
    ok,
    {
      ok: true,
      query: { q: "x", regex: true, caseSensitive: true, from: 5, dir: "fwd", limit: 9, history: true },
    } as const,
  );
  const d = parseSearchQuery(new URLSearchParams("q=x"), 0);
  assert(d.ok);
  assertEquals([d.query.dir, d.query.limit, d.query.from, d.query.caseSensitive], ["back", 1000, null, false]);
});

Deno.test("SearchLimiter allows 2 per client and 4 per core, and release is idempotent", () => {
  const l = new SearchLimiter({ total: 3, retryAfterS: 7 });
  const a1 = l.acquire("a"), a2 = l.acquire("a"), a3 = l.acquire("a");
  assert(a1.ok && a2.ok);
  assert(!a3.ok);
  assertEquals([a3.status, a3.retryAfterS], [429, 7]);
  assertMatch(a3.reason, /at most 2 at once per client/);
  const b1 = l.acquire("b");
  assert(b1.ok);
  const c1 = l.acquire("c");
  assert(!c1.ok);
  assertMatch(c1.reason, /at most 3 at once on this server/);
  a1.release();
  a1.release();
  assertEquals(l.running, 2);
  assert(l.acquire("a").ok);
  assert(!l.acquire("c").ok);
  b1.release();
  assert(l.acquire("c").ok);
  assertEquals(new SearchLimiter().total % 4, 0);
});

Deno.test("ndjsonBody() streams one JSON line per event and aborts the search when cancelled", async () => {
  const f = await fixture(makeLog(2000, MARKERS));
  try {
    const p = parseSearchQuery(new URLSearchParams("q=mark-"), f.size);
    assert(p.ok);
    const ac = new AbortController();
    let ended = 0;
    const body = ndjsonBody(searchFile({ path: f.path }, p.query, ac.signal), ac, () => ended++);
    const text = await new Response(body).text();
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.at(-1).done, true);
    assertEquals(ended, 1);
    const ac2 = new AbortController();
    const body2 = ndjsonBody(searchFile({ path: f.path }, p.query, ac2.signal), ac2, () => ended++);
    await body2.cancel();
    assert(ac2.signal.aborted);
    assertEquals(ended, 2);
  } finally {
    await f.done();
  }
});

// The facade's types, used the way the wiring will use them.
const _q: SearchQuery = {
  q: "x",
  regex: false,
  caseSensitive: false,
  from: null,
  dir: "back",
  limit: 1,
  history: false,
};
void _q;

Deno.test("every search event, and the NDJSON example in docs/protocol.md, fits docs/http.schema.json's searchEvent", async () => {
  const { Ajv2020 } = await import("ajv/dist/2020.js");
  const schema = JSON.parse(await Deno.readTextFile(new URL("../../docs/http.schema.json", import.meta.url)));
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addSchema(schema, "http");
  const validate = ajv.getSchema("http#/$defs/searchEvent")!;
  const check = (ev: unknown) =>
    assert(validate(ev), `${JSON.stringify(ev).slice(0, 200)}: ${ajv.errorsText(validate.errors)}`);
  const md = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  const example = /## Search[\s\S]*?```\n([\s\S]*?)```/.exec(md)![1]!;
  for (const line of example.trim().split("\n")) check(JSON.parse(line));
  const long = "x".repeat(LINE_CUT + 10) + " NEEDLE";
  const f = await fixture(["a NEEDLE", long, "b NEEDLE"]);
  try {
    for (const qs of ["q=needle&limit=2", "q=needle&dir=fwd"]) {
      const p = parseSearchQuery(new URLSearchParams(qs), f.size);
      assert(p.ok);
      let n = 0;
      for await (const ev of searchFile({ path: f.path, name: "app.log" }, p.query, new AbortController().signal)) {
        check(ev);
        n++;
      }
      assert(n >= 3);
    }
    check({ scanned: 1, size: 2 });
    assert(!validate({ n: 0, offset: 0, text: "" }), "n starts at 1");
    assert(!validate({ n: 1, offset: 0, text: "", cut: true }), "cut needs bytes");
  } finally {
    await f.done();
  }
});
