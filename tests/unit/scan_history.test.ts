/** src/scan/history.ts: rotated generations, lookups that never make paths, and history search. */
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { assert, assertEquals } from "../helpers/assert.ts";
import { findGeneration, generationKey, listGenerations, searchHistory } from "../../src/scan/history.ts";
import { parseSearchQuery, type SearchEvent, type SearchMatch } from "../../src/scan/search.ts";

async function dir(files: Record<string, string | { gz: string }>, mtimes: Record<string, number> = {}) {
  const d = await Deno.makeTempDir({ prefix: "fw-hist-" });
  for (const [name, body] of Object.entries(files)) {
    if (typeof body === "string") await Deno.writeTextFile(`${d}/${name}`, body);
    else await Deno.writeFile(`${d}/${name}`, gzipSync(new TextEncoder().encode(body.gz)));
    const t = mtimes[name];
    if (t !== undefined) await Deno.utime(`${d}/${name}`, t, t);
  }
  return d;
}

Deno.test("generationKey() knows logrotate's names and nothing else", () => {
  assertEquals(generationKey("app.log", "app.log.1"), { kind: "number", n: 1 });
  assertEquals(generationKey("app.log", "app.log.12.gz"), { kind: "number", n: 12 });
  assertEquals(generationKey("app.log", "app.log-20261206"), { kind: "date", date: "2026120600" });
  assertEquals(generationKey("app.log", "app.log-2026120613.gz"), { kind: "date", date: "2026120613" });
  for (
    const bad of [
      "app.log",
      "app.log.0",
      "app.log.1.bz2",
      "app.log-20261399",
      "app.log-2026120625",
      "app.logx.1",
      "app.log.1.gz.tmp",
      "other.1",
      "app.log.-1",
    ]
  ) {
    assertEquals(generationKey("app.log", bad), null, bad);
  }
});

Deno.test("listGenerations() orders numbered by number, dated by date, mixed by mtime; regular files only", async () => {
  const d = await dir({
    "app.log": "live\n",
    "app.log.2.gz": { gz: "two\n" },
    "app.log.10": "ten\n",
    "app.log.1": "one\n",
    "other.log.1": "x\n",
  });
  const e = await dir({
    "app.log": "",
    "app.log-20261201.gz": { gz: "a\n" },
    "app.log-20261205": "b\n",
    "app.log-20261203": "c\n",
  });
  const m = await dir({ "app.log": "", "app.log.1": "x\n", "app.log-20261205": "y\n" }, {
    "app.log.1": 1000,
    "app.log-20261205": 2000,
  });
  try {
    assertEquals((await listGenerations(`${d}/app.log`)).map((g) => g.name), [
      "app.log.1",
      "app.log.2.gz",
      "app.log.10",
    ]);
    const g = (await listGenerations(`${d}/app.log`))[0]!;
    assertEquals([g.size, typeof g.mtime], [4, "number"]);
    assertEquals((await listGenerations(`${e}/app.log`)).map((g) => g.name), [
      "app.log-20261205",
      "app.log-20261203",
      "app.log-20261201.gz",
    ]);
    assertEquals((await listGenerations(`${m}/app.log`)).map((g) => g.name), ["app.log-20261205", "app.log.1"]);
    // A FIFO, a directory, a symlink out of the directory and a dangling one are left out; a link inside stays.
    execFileSync("mkfifo", [`${d}/app.log.3`]);
    await Deno.mkdir(`${d}/app.log.4`);
    await Deno.symlink("/etc/passwd", `${d}/app.log.5`);
    await Deno.symlink(`${d}/nothing`, `${d}/app.log.6`);
    await Deno.symlink(`${d}/app.log.1`, `${d}/app.log.7`);
    assertEquals((await listGenerations(`${d}/app.log`)).map((g) => g.name), [
      "app.log.1",
      "app.log.2.gz",
      "app.log.7",
      "app.log.10",
    ]);
    assertEquals(await listGenerations(`${d}/missing/app.log`), []);
  } finally {
    for (const x of [d, e, m]) await Deno.remove(x, { recursive: true });
  }
});

Deno.test("findGeneration() returns only listed names: hostile names are not found", async () => {
  const d = await dir({ "app.log": "", "app.log.1": "one\n" });
  try {
    const g = await findGeneration(`${d}/app.log`, "app.log.1");
    assertEquals(g && [g.name, g.path], ["app.log.1", `${d}/app.log.1`]);
    for (
      const bad of [
        "../app.log.1",
        `${d}/app.log.1`,
        "/etc/passwd",
        "app.log",
        "app.log.2",
        "app.log.1/",
        "./app.log.1",
        "app.log.1\0",
        "",
      ]
    ) {
      assertEquals(await findGeneration(`${d}/app.log`, bad), null, bad);
    }
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("searchHistory() searches the file then its generations newest first, each match with file", async () => {
  const d = await dir({
    "app.log": "a HIT live-1\nb\nc HIT live-3\n",
    "app.log.1": "HIT one-1\nx\n",
    "app.log.2.gz": { gz: "y\nHIT two-2\nHIT two-3\n" },
  });
  try {
    const gens = await listGenerations(`${d}/app.log`);
    const sources = [
      { name: "app.log", path: `${d}/app.log` },
      ...gens.map((g) => ({ name: g.name, path: `${d}/${g.name}` })),
    ];
    const q = async (qs: string) => {
      const p = parseSearchQuery(new URLSearchParams(qs), 1 << 30);
      if (!p.ok) throw new Error(p.reason);
      const ev: SearchEvent[] = [];
      for await (const e of searchHistory(sources, p.query, new AbortController().signal)) ev.push(e);
      return {
        m: ev.filter((e): e is SearchMatch => "text" in e).map((e) => `${e.file}:${e.n}:${e.text}`),
        done: ev.at(-1),
      };
    };
    const back = await q("q=hit&history=1");
    assertEquals(back.m, [
      "app.log:3:c HIT live-3",
      "app.log:1:a HIT live-1",
      "app.log.1:1:HIT one-1",
      "app.log.2.gz:3:HIT two-3",
      "app.log.2.gz:2:HIT two-2",
    ]);
    let total = 0;
    for (const s of sources) total += (await Deno.stat(s.path)).size;
    assertEquals(back.done, { done: true, matches: 5, scanned: total });
    const fwd = await q("q=hit&history=1&dir=fwd");
    assertEquals(fwd.m, [...back.m].reverse()); // oldest first
    const lim = await q("q=hit&history=1&limit=3");
    assertEquals(lim.m.length, 3);
    assert(lim.done && "done" in lim.done);
    // The limit fell on app.log.1's first line: go on with all of the next generation.
    assertEquals([lim.done.nextFile, lim.done.next], ["app.log.2.gz", undefined]);
    const lim2 = await q("q=hit&history=1&limit=2");
    assert(lim2.done && "done" in lim2.done);
    assertEquals([lim2.done.nextFile, lim2.done.next], ["app.log.1", undefined]);
    const lim1 = await q("q=hit&history=1&limit=1");
    assert(lim1.done && "done" in lim1.done);
    assertEquals([lim1.done.nextFile, lim1.done.next], ["app.log", 15]);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});
