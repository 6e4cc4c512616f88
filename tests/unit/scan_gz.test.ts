/** src/scan/gz.ts: .gz generations read as a stream, searched both ways, read by line number. */
import { gzipSync } from "node:zlib";
import { assert, assertEquals } from "../helpers/assert.ts";
import { gzLines, searchGz } from "../../src/scan/gz.ts";
import { parseSearchQuery, type SearchEvent, type SearchMatch } from "../../src/scan/search.ts";

const enc = new TextEncoder();

async function gzFixture(lines: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "fw-gz-" });
  const path = `${dir}/app.log.1.gz`;
  await Deno.writeFile(path, gzipSync(enc.encode(lines.join("\n") + "\n")));
  const offsets: number[] = [];
  let o = 0;
  for (const l of lines) {
    offsets.push(o);
    o += enc.encode(l).length + 1;
  }
  return { path, offsets, done: () => Deno.remove(dir, { recursive: true }) };
}

function lines(n: number): string[] {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(`line ${i} ${i % 997 === 0 ? "HIT-" + i : "plain"} ${"x".repeat(i % 50)}`);
  return out;
}

async function run(path: string, qs: string) {
  const p = parseSearchQuery(new URLSearchParams(qs), Number.MAX_SAFE_INTEGER);
  if (!p.ok) throw new Error(p.reason);
  const events: SearchEvent[] = [];
  for await (const ev of searchGz({ path, name: "app.log.1.gz" }, p.query, new AbortController().signal)) {
    events.push(ev);
  }
  return { matches: events.filter((e): e is SearchMatch => "text" in e), done: events.at(-1) };
}

Deno.test("searchGz() finds lines with exact n and decompressed offsets, forward and newest first", async () => {
  const ls = lines(120000); // ~5 MiB decompressed: more than one window
  const f = await gzFixture(ls);
  try {
    const want = ls.map((text, i) => ({ n: i + 1, offset: f.offsets[i]!, text, file: "app.log.1.gz" }))
      .filter((m) => m.text.includes("HIT-"));
    assertEquals(want.length, 120);
    const fwd = await run(f.path, "q=hit-&dir=fwd");
    assertEquals(fwd.matches, want);
    const back = await run(f.path, "q=hit-");
    assertEquals(back.matches, [...want].reverse());
    assert(back.done && "done" in back.done && back.done.matches === 120);
    // Limit and continuation both ways.
    const b5 = await run(f.path, "q=HIT-&limit=5");
    assertEquals(b5.matches, want.slice(-5).reverse());
    assert(b5.done && "done" in b5.done);
    assertEquals(b5.done.next, want.at(-5)!.offset);
    const b10 = await run(f.path, `q=HIT-&limit=5&from=${b5.done.next}`);
    assertEquals(b10.matches, want.slice(-10, -5).reverse());
    const f3 = await run(f.path, "q=HIT-&limit=3&dir=fwd&case=1");
    assertEquals(f3.matches, want.slice(0, 3));
    assert(f3.done && "done" in f3.done);
    assertEquals(f3.done.next, want[2]!.offset + enc.encode(want[2]!.text).length + 1);
    // A regular expression.
    assertEquals(
      (await run(f.path, "q=hit-%5Cd*7%20&regex=1&dir=fwd")).matches,
      want.filter((m) => /HIT-\d*7 /.test(m.text)),
    );
  } finally {
    await f.done();
  }
});

Deno.test("gzLines() reads lines by number, by offset both ways and the last lines, with the line count", async () => {
  const ls = lines(5000);
  const f = await gzFixture(ls);
  try {
    const ac = new AbortController();
    const at = (...ns: number[]) => ns.map((n) => ({ n, offset: f.offsets[n - 1]!, text: ls[n - 1]! }));
    const mid = await gzLines(f.path, { by: "line", line: 2500, count: 3 }, ac.signal);
    assertEquals(mid.total, 5000);
    assertEquals(mid.lines, at(2500, 2501, 2502));
    assertEquals((await gzLines(f.path, { by: "line", line: 3, count: -5 }, ac.signal)).lines, at(1, 2, 3));
    const end = await gzLines(f.path, { by: "end", count: 2 }, ac.signal);
    assertEquals(end.lines.map((l) => l.n), [4999, 5000]);
    assertEquals(end.size, f.offsets[4999]! + enc.encode(ls[4999]!).length + 1);
    // An offset inside line 100 snaps to line 101; back from there, the lines before it.
    const inside = f.offsets[99]! + 2;
    assertEquals((await gzLines(f.path, { by: "offset", offset: inside, count: 2 }, ac.signal)).lines, at(101, 102));
    assertEquals((await gzLines(f.path, { by: "offset", offset: inside, count: -2 }, ac.signal)).lines, at(99, 100));
    assertEquals((await gzLines(f.path, { by: "line", line: 6000, count: 2 }, ac.signal)).lines, []);
  } finally {
    await f.done();
  }
});

Deno.test("searchGz() reports a file that is not gzip as an error in done", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fw-gz-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.gz`, "not gzip at all\n");
    const r = await run(`${dir}/bad.gz`, "q=x");
    assert(r.done && "done" in r.done && typeof r.done.error === "string", JSON.stringify(r.done));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
