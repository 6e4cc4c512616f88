/**
 * `&level=` on search (src/scan/search.ts): `level=warn` keeps the lines
 * at warn and worse, as src/shared/levels.ts reads them (a level word, a
 * JSON field, logfmt, syslog, colours dropped), with a query or alone; a bad
 * level is a 400's reason. Expected answers come from the file's own lines.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseSearchQuery, type SearchEvent, searchFile, type SearchMatch } from "../../src/scan/search.ts";
import { atLeast, detectLevel } from "../../src/shared/levels.ts";

const E = "\x1b";
const LINES = [
  "2026-12-06T00:00:00Z INFO request served",
  "2026-12-06T00:00:01Z WARN request slow",
  "2026-12-06T00:00:02Z ERROR request failed",
  '{"level":"error","msg":"request failed in JSON"}',
  "time=2026-12-06T00:00:03Z level=debug msg=request",
  `${E}[90m2026-12-06T00:00:04Z${E}[0m ${E}[31mFATAL${E}[0m request crashed`,
  "<4>Dec  6 00:00:05 host app: request degraded",
  "  at a.continuation(A.java:1) called from one place after another and then ERROR",
  '{"level":50,"msg":"pino error, no word we look for"}',
  "2026-12-06T00:00:06Z TRACE request traced",
];

async function search(params: string): Promise<SearchMatch[]> {
  const dir = await Deno.makeTempDir({ prefix: "fw-search-level-" });
  try {
    const path = `${dir}/app.log`;
    await Deno.writeTextFile(path, LINES.join("\n") + "\n");
    const parsed = parseSearchQuery(new URLSearchParams(params), (await Deno.stat(path)).size);
    if (!parsed.ok) throw new Error(parsed.reason);
    const out: SearchEvent[] = [];
    for await (const ev of searchFile({ path }, parsed.query, new AbortController().signal)) out.push(ev);
    const done = out.at(-1);
    assert(done && "done" in done && done.error === undefined, JSON.stringify(done));
    return out.filter((e): e is SearchMatch => "n" in e);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The 1-based numbers of the lines with `word` (any case) at `min` or worse, as the page's levels read them. */
function expected(word: string | null, min: "warn" | "error" | "trace"): number[] {
  const out: number[] = [];
  LINES.forEach((l, i) => {
    if ((word === null || l.toLowerCase().includes(word)) && atLeast(detectLevel(l), min)) out.push(i + 1);
  });
  return out;
}

Deno.test("search with level=warn keeps the lines at warn and worse, in every form a level is written", async () => {
  const fwd = await search("q=request&level=warn&dir=fwd");
  assertEquals(fwd.map((m) => m.n), expected("request", "warn"));
  assertEquals(fwd.map((m) => m.n), [2, 3, 4, 6, 7], "WARN, ERROR, JSON error, coloured FATAL, syslog <4>");
  assertEquals(fwd[3]!.text, LINES[5], "the line is sent as it is");
  // Newest first, the same lines.
  const back = await search("q=request&level=warn");
  assertEquals(back.map((m) => m.n), [7, 6, 4, 3, 2]);
});

Deno.test("search with a level and no q lists every line of that level; names are read as people write them", async () => {
  assertEquals((await search("level=error&dir=fwd")).map((m) => m.n), expected(null, "error"));
  assertEquals((await search("level=error&dir=fwd")).map((m) => m.n), [3, 4, 6, 9], "pino's 50 is an error");
  assertEquals((await search("level=ERR&dir=fwd")).map((m) => m.n), [3, 4, 6, 9]);
  assertEquals((await search("level=Warning&dir=fwd")).map((m) => m.n), expected(null, "warn"));
  assertEquals(
    (await search("level=trace&dir=fwd")).length,
    expected(null, "trace").length,
    "trace: every line with a level",
  );
  // A word in a continuation's text is not its level.
  assertEquals((await search("q=continuation&level=error")).length, 0);
  assertEquals((await search("q=continuation")).length, 1);
  // A regular expression too.
  assertEquals((await search("q=request%20(slow|failed)&regex=1&level=error&dir=fwd")).map((m) => m.n), [3, 4]);
});

Deno.test("a bad level is a 400's reason; an empty q without a level still is", () => {
  const bad = (p: string) => {
    const r = parseSearchQuery(new URLSearchParams(p), 100);
    assert(!r.ok, p);
    return r.reason;
  };
  assertMatch(
    bad("q=x&level=loud"),
    /^Cannot search: "level" must be one of fatal, error, warn, info, debug, trace, got "loud"$/,
  );
  assertMatch(bad("level="), /"level" must be one of/);
  assertMatch(bad("q="), /"q" is required/);
  const ok = parseSearchQuery(new URLSearchParams("level=warn"), 100);
  assert(ok.ok);
  assertEquals([ok.query.q, ok.query.level], ["", "warn"]);
  const plain = parseSearchQuery(new URLSearchParams("q=x"), 100);
  assert(plain.ok && !("level" in plain.query), "no level: the query as before");
});
