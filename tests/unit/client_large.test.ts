/**
 * The large-file view's pure parts (docs/page.md#the-whole-log-at-any-size): the scrollbar's
 * arithmetic (src/client/scrollmap.ts), the bounded line cache
 * (linecache.ts), the NDJSON reader the search streams through (ndjson.ts),
 * appends as numbered lines (growth.ts), the server's answers checked
 * (remote.ts), the search's labels and what it asks (search.ts), Go to time
 * on plain objects (gotime.ts), and the last screen the server's HTML carries
 * (src/page.ts). The view itself lays out lines: tests/browser/bigfile.test.ts.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { FakeEl } from "../helpers/fake_dom.ts";
import {
  type Extent,
  fractionAtPointer,
  keyStep,
  MIN_THUMB_PX,
  placeAt,
  placeLabel,
  scrollFraction,
  thumbBox,
} from "../../src/client/scrollmap.ts";
import { LineCache } from "../../src/client/linecache.ts";
import { NdjsonSplitter, readNdjson } from "../../src/client/ndjson.ts";
import { appendLines, dropBytes, LINE_CUT_CHARS, lineBytes, reachesEnd } from "../../src/client/growth.ts";
import type { Line } from "../../src/shared/answers.ts";
import {
  HttpError,
  linesUrl,
  parseLinesAnswer,
  parseSearchEvent,
  parseTimeAnswer,
  retryAfterMs,
  searchUrl,
  timeUrl,
} from "../../src/client/remote.ts";
import { askOf, matchesLabel, progressLabel } from "../../src/client/ask.ts";
import { GoToTime, timeMessage } from "../../src/client/gotime.ts";
import { parseFilter } from "../../src/client/filter.ts";
import { keyCommand } from "../../src/client/keys.ts";
import { isLargeFile, LARGE_FIRST_LINES, largePage, lastScreen, renderPage } from "../../src/page.ts";
import type { El } from "../../src/client/dom.ts";
import { PageCache } from "../../src/page_cache.ts";
import { Version } from "../../src/version.ts";

const enc = new TextEncoder();

// ---- the scrollbar -----------------------------------------------------------

Deno.test("scrollFraction() is 0 at the start, 1 with the end in view, and in proportion between", () => {
  assertEquals(scrollFraction(0, 30, 1000), 0);
  assertEquals(scrollFraction(485, 30, 1000), 0.5);
  assertEquals(scrollFraction(970, 30, 1000), 1);
  assertEquals(scrollFraction(5000, 30, 1000), 1, "never past the end");
  assertEquals(scrollFraction(0, 30, 10), 0, "a file shorter than the view is at its start");
});

Deno.test("thumbBox() sizes the thumb by what is in view, never smaller than a pointer's target", () => {
  assertEquals(thumbBox(400, 0.5, 100, 1000), { size: 40, pos: 180 });
  // 40 million lines, 30 in view: the thumb keeps its minimum and still travels the whole track.
  const big = thumbBox(600, 1, 30, 40_000_000);
  assertEquals(big.size, MIN_THUMB_PX);
  assertEquals(big.pos, 600 - MIN_THUMB_PX);
  assertEquals(thumbBox(600, 0.3, 50, 20).size, 600, "a file that fits: the thumb fills the track");
});

Deno.test("fractionAtPointer() follows the pointer where the thumb was grabbed, clamped to the track", () => {
  assertEquals(fractionAtPointer(200, 20, 400, 40), 0.5);
  assertEquals(fractionAtPointer(-50, 20, 400, 40), 0);
  assertEquals(fractionAtPointer(900, 20, 400, 40), 1);
  assertEquals(fractionAtPointer(10, 0, 40, 40), 0, "no room to move");
});

Deno.test("placeAt() maps the bar to a line once lines are counted, to a byte before, and 1 to the end", () => {
  const lines: Extent = { unit: "line", total: 40_000_001 };
  assertEquals(placeAt(0, lines, 30), { line: 1 });
  assertEquals(placeAt(0.5, { unit: "line", total: 1001 }, 1), { line: 501 });
  // Past Chromium's ~33.5 M px element cap: a line in the middle of 40 M is reached exactly.
  assertEquals(placeAt(0.5, lines, 1), { line: 20_000_001 });
  assertEquals(placeAt(0.25, { unit: "byte", total: 4096 }, 0), { offset: 1024 });
  assertEquals(placeAt(1, lines, 30), { end: true });
  assertEquals(placeAt(0.9999999, { unit: "line", total: 1000 }, 30), { end: true }, "the last screen is the end");
});

Deno.test("placeLabel() says where a jump goes; keyStep() moves the bar by keys", () => {
  const ext: Extent = { unit: "byte", total: 4 * 2 ** 30 };
  assertEquals(placeLabel({ line: 1234567 }, ext), "line 1,234,567");
  assertEquals(placeLabel({ offset: 3 * 2 ** 30 }, ext), "75% of the file");
  assertEquals(placeLabel({ end: true }, ext), "the end");
  assertEquals([keyStep("ArrowDown"), keyStep("PageUp"), keyStep("End"), keyStep("x")], [0.01, -0.1, 1, null]);
});

// ---- the line cache ------------------------------------------------------------

/** Lines `from`..`from+count-1` of a file whose line k is `line k` and starts at 100·(k-1). */
const run = (from: number, count: number, numbered = true): Line[] =>
  Array.from({ length: count }, (_, i) => ({
    n: numbered ? from + i : null,
    offset: (from + i - 1) * 100,
    text: `line ${from + i}`,
  }));

Deno.test("LineCache finds lines by offset and by number, with what is around them", () => {
  const c = new LineCache();
  c.put(run(1, 50), { eof: false });
  const s = c.get({ n: 20 }, 5, 10)!;
  assertEquals(s.lines.map((l) => l.n), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  assertEquals(s.at, 5);
  assertEquals(s.startsFile, false);
  assertEquals(c.get({ offset: 0 }, 5, 2)!.startsFile, true, "offset 0 is the file's first line");
  assertEquals(c.get({ offset: 150 }, 0, 1), null, "not a line start");
  assertEquals(c.get({ n: 51 }, 0, 1), null, "not held");
});

Deno.test("LineCache joins an answer that overlaps by one line into one run, numbers and all", () => {
  const c = new LineCache();
  c.put(run(100, 10, false));
  // The next answer starts with the last line held (the view asks with one line of overlap) and has numbers.
  c.put(run(109, 10), { eof: true });
  assertEquals(c.runs, 1);
  const s = c.get({ offset: 99 * 100 }, 0, 100)!;
  assertEquals(s.lines.map((l) => l.n), Array.from({ length: 19 }, (_, i) => 100 + i), "numbers filled back");
  assertEquals(s.endsFile, true);
  // Runs whose numbers touch join too; runs apart stay apart.
  c.put(run(90, 10));
  assertEquals(c.runs, 1);
  c.put(run(10, 5));
  assertEquals(c.runs, 2);
});

Deno.test("LineCache takes the newer text where an answer overlaps (a last line that grew)", () => {
  const c = new LineCache();
  c.put(run(1, 3), { eof: true });
  c.put([{ n: 3, offset: 200, text: "line 3 and more" }, { n: 4, offset: 300, text: "line 4" }], { eof: true });
  assertEquals(c.get({ n: 1 }, 0, 10)!.lines.map((l) => l.text), ["line 1", "line 2", "line 3 and more", "line 4"]);
  c.grew();
  assertEquals(c.get({ n: 1 }, 0, 10)!.endsFile, false, "after an append the held end is not the file's");
});

Deno.test("LineCache stays within its bounds: the runs used longest ago go first", () => {
  const c = new LineCache(1_000, 1 << 30);
  for (let place = 0; place < 100; place++) c.put(run(1 + place * 10_000, 400));
  assert(c.lines <= 1_000, `at most 1,000 lines held, got ${c.lines}`);
  assert(c.get({ n: 1 + 99 * 10_000 }, 0, 1) !== null, "the newest place is held");
  assertEquals(c.get({ n: 1 }, 0, 1), null, "the oldest is gone");
  // One answer larger than the bound keeps the part just put, cut from its far ends.
  const d = new LineCache(100, 1 << 30);
  d.put(run(1, 1000));
  assertEquals(d.lines, 100);
  const chars = new LineCache(1 << 20, 2_000);
  chars.put(run(1, 500));
  assert(chars.chars <= 2_000, `characters bounded too, got ${chars.chars}`);
});

// ---- NDJSON ------------------------------------------------------------------------

Deno.test("NdjsonSplitter parses lines across chunk boundaries, a character split in two included", () => {
  const s = new NdjsonSplitter();
  const bytes = enc.encode('{"text":"é€😀"}\n{"n":2}\n\n{"n"');
  const out: unknown[] = [];
  // One byte at a time: every boundary, inside the multi-byte characters too.
  for (let i = 0; i < bytes.length; i++) out.push(...s.push(bytes.subarray(i, i + 1)));
  out.push(...s.push(enc.encode(":3}")));
  out.push(...s.end());
  assertEquals(out, [{ text: "é€😀" }, { n: 2 }, { n: 3 }], "the last line needs no newline");
});

Deno.test("NdjsonSplitter skips a line that is not JSON and counts it", () => {
  const s = new NdjsonSplitter();
  assertEquals(s.push(enc.encode('{"a":1}\nnot json\n{"b":2}\n')), [{ a: 1 }, { b: 2 }]);
  assertEquals(s.bad, 1);
});

Deno.test("readNdjson() yields each value as soon as its line is complete, before the stream ends", async () => {
  let push!: (s: string) => void;
  let close!: () => void;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      push = (s) => c.enqueue(enc.encode(s));
      close = () => c.close();
    },
  });
  const it = readNdjson(body);
  push('{"n":1}\n{"n":');
  assertEquals((await it.next()).value, { n: 1 }, "the first value, while the stream is still open");
  push("2}\n");
  assertEquals((await it.next()).value, { n: 2 });
  close();
  assertEquals((await it.next()).done, true);
});

// ---- appends as lines --------------------------------------------------------------

Deno.test("appendLines() numbers new lines and counts their bytes (multi-byte characters too)", () => {
  const last: Line = { n: 9, offset: 500, text: "done" };
  const got = appendLines(last, false, 9, "é1\nb\n", 505);
  assertEquals(got.grown, null);
  assertEquals(got.lines, [{ n: 10, offset: 505, text: "é1" }, { n: 11, offset: 509, text: "b" }]);
  assertEquals([got.open, got.total], [false, 11]);
});

Deno.test("appendLines() continues a last line that had no newline, and leaves one open", () => {
  const last: Line = { n: 3, offset: 20, text: "half" };
  const got = appendLines(last, true, 3, " line\nnext", 24);
  assertEquals(got.grown, { n: 3, offset: 20, text: "half line" });
  assertEquals(got.lines, [{ n: 4, offset: 30, text: "next" }]);
  assertEquals([got.open, got.total], [true, 4]);
  const unknown = appendLines(null, false, null, "a\n", 0);
  assertEquals(unknown.lines[0]!.n, null, "no count, no numbers");
  // The view does not hold the file's end (it reads the middle): the open line's rest is left out, numbers go on.
  const away = appendLines(null, true, 3, " line\nnext\n", 24);
  assertEquals([away.grown, away.lines, away.total], [null, [{ n: 4, offset: 30, text: "next" }], 4]);
});

Deno.test("appendLines() cuts a line longer than the server would send", () => {
  const got = appendLines(null, false, 0, "x".repeat(LINE_CUT_CHARS + 10) + "\n", 0);
  assertEquals(got.lines[0]!.text.length, LINE_CUT_CHARS);
  assertEquals([got.lines[0]!.cut, got.lines[0]!.bytes], [true, LINE_CUT_CHARS + 10]);
});

Deno.test("dropBytes() leaves out what the view already read; reachesEnd() tells the file's last line", () => {
  assertEquals(dropBytes("é!\n", 2), "!\n");
  assertEquals(dropBytes("😀a", 4), "a");
  assertEquals(dropBytes("ab", 5), "");
  assertEquals(lineBytes({ n: 1, offset: 0, text: "é" }), 2);
  assertEquals(lineBytes({ n: 1, offset: 0, text: "x", cut: true, bytes: 70_000 }), 70_000);
  assert(reachesEnd({ n: 1, offset: 10, text: "abc" }, 14), "its newline is the last byte");
  assert(reachesEnd({ n: 1, offset: 10, text: "abc" }, 13), "no newline at the end");
  assert(!reachesEnd({ n: 1, offset: 10, text: "abc" }, 20));
});

// ---- the server's answers -----------------------------------------------------------

Deno.test("parseLinesAnswer() takes a /lines answer and refuses what is not one", () => {
  const ok = {
    size: 20,
    lastMod: "ab",
    total: null,
    lines: [{ n: null, offset: 0, text: "a" }, { n: 2, offset: 2, text: "b", cut: true, bytes: 70000 }],
  };
  assertEquals(parseLinesAnswer(ok)?.lines[1], { n: 2, offset: 2, text: "b", cut: true, bytes: 70000 });
  assertEquals(parseLinesAnswer({ ...ok, size: -1 }), null);
  assertEquals(parseLinesAnswer({ ...ok, total: "3" }), null);
  assertEquals(parseLinesAnswer({ ...ok, lines: [{ n: 0, offset: 0, text: "" }] }), null, "numbers start at 1");
  assertEquals(parseLinesAnswer({ ...ok, lines: [ok.lines[1], ok.lines[0]] }), null, "lines in file order");
  assertEquals(parseLinesAnswer("<html>"), null);
});

Deno.test("parseSearchEvent() reads matches, progress and the end; parseTimeAnswer() a time found", () => {
  assertEquals(parseSearchEvent({ n: 5, offset: 40, text: "err" }), {
    kind: "match",
    line: { n: 5, offset: 40, text: "err" },
  });
  assertEquals(parseSearchEvent({ scanned: 10, size: 100 }), { kind: "progress", scanned: 10, size: 100 });
  assertEquals(parseSearchEvent({ done: true, matches: 3, scanned: 100, next: 7 }), {
    kind: "done",
    matches: 3,
    scanned: 100,
    next: 7,
  });
  assertEquals(parseSearchEvent({ n: 5, offset: -1, text: "x" }), null);
  assertEquals(parseTimeAnswer({ n: 3, offset: 20, t: "2026-12-07T00:11:49.000Z" })?.n, 3);
  assertEquals(parseTimeAnswer({ n: null, offset: null, t: null }), { n: null, offset: null, t: null });
  assertEquals(parseTimeAnswer({ n: "3", offset: 20, t: "x" }), null);
});

Deno.test("the routes' URLs come from the page's paths, their values encoded", () => {
  assertEquals(
    linesUrl("/logs/lines/a%20b", { offset: 4096, count: -200 }),
    "/logs/lines/a%20b?offset=4096&count=-200",
  );
  assertEquals(linesUrl("/lines", { line: 7, count: 50_000 }), "/lines?line=7&count=10000", "count capped");
  assertEquals(linesUrl("/lines", { end: true, count: 400 }), "/lines?end=1&count=400");
  assertEquals(searchUrl("/search", { q: "a&b c", regex: false, matchCase: true }), "/search?q=a%26b+c&case=1");
  assertEquals(
    searchUrl("/search", { q: "x+", regex: true, matchCase: false, from: 99, limit: 1000 }),
    "/search?q=x%2B&regex=1&from=99&dir=back&limit=1000",
  );
  assertEquals(timeUrl("/time", " 2026-12-07T00:11Z "), "/time?t=2026-12-07T00%3A11Z");
  assertEquals(retryAfterMs("3", 0), 3000);
  assertEquals(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
  assertEquals(retryAfterMs("soon", 0), null);
});

// ---- the search ------------------------------------------------------------------------

Deno.test("askOf() maps the filter box to the server search: /regex/ → regex=1, match case → case=1", () => {
  assertEquals(askOf(parseFilter("/err(or)?/", true), "/err(or)?/", true), {
    q: "err(or)?",
    regex: true,
    matchCase: true,
  });
  assertEquals(askOf(parseFilter("a.b", false), "a.b", false), { q: "a.b", regex: false, matchCase: false });
  assertEquals(askOf(parseFilter("", false), "", false), null);
  assertEquals(askOf(parseFilter("/(/", false), "/(/", false), null);
  assertEquals([matchesLabel(0), matchesLabel(1), matchesLabel(1234)], ["No matches", "1 match", "1,234 matches"]);
  assertEquals(progressLabel(2 ** 30, 4 * 2 ** 30), "searched 1 GiB of 4 GiB (25%)");
});

// ---- Go to time --------------------------------------------------------------------------

const timers = { setTimer: () => 0, clearTimer: () => {} };

function timeBox(find: (t: string) => Promise<{ n: number | null; offset: number | null; t: string | null }>) {
  const dom = {
    button: new FakeEl("time-open") as El,
    form: new FakeEl("time"),
    input: new FakeEl("time-input"),
    msg: new FakeEl("time-msg"),
    home: new FakeEl("view"),
    focused: () => null,
  };
  dom.form.hidden = true;
  const went: unknown[] = [];
  const box = new GoToTime(dom, { find, go: (f) => went.push(f) }, timers);
  return { dom, box, went };
}

Deno.test("GoToTime asks the server and shows the line found, then says which", async () => {
  const asked: string[] = [];
  const { dom, box, went } = timeBox((t) => {
    asked.push(t);
    return Promise.resolve({ n: 120, offset: 4096, t: "2026-12-07T00:11:49.000Z" });
  });
  box.show();
  assertEquals([dom.form.hidden, dom.button.getAttribute("aria-expanded")], [false, "true"]);
  dom.input.value = " 2026-12-07T00:11Z ";
  await box.submit();
  assertEquals(asked, ["2026-12-07T00:11Z"]);
  assertEquals(went, [{ n: 120, offset: 4096, t: "2026-12-07T00:11:49.000Z" }]);
  assertEquals(dom.form.hidden, true, "the box closes");
  assertEquals(dom.msg.textContent, "Showing line 120, stamped 2026-12-07T00:11:49.000Z");
});

Deno.test("GoToTime says the server's reason for a 422 and goes nowhere", async () => {
  const why = "Unprocessable Content: app.log has no timestamps filewatch recognises";
  const { dom, box, went } = timeBox(() => Promise.reject(new HttpError(422, why, null)));
  box.show();
  dom.input.value = "2026-12-07";
  await box.submit();
  assertEquals(went, []);
  assertEquals(dom.msg.textContent, why);
  assertEquals([dom.msg.classes.has("bad"), dom.input.getAttribute("aria-invalid")], [true, "true"]);
  assertEquals(dom.form.hidden, false, "the box stays open to try again");
  dom.input.value = "  ";
  await box.submit();
  assert(/^Type a time/.test(dom.msg.textContent ?? ""), "an empty box says what to type");
  assertEquals(timeMessage({ n: null, offset: null, t: null }), "No line is stamped at or after that time");
});

Deno.test("keyCommand() gives t for Go to time, but not while typing", () => {
  const base = { ctrlKey: false, metaKey: false, altKey: false, isComposing: false };
  assertEquals(keyCommand({ ...base, key: "t", target: { tagName: "MAIN" } }, null), "time");
  assertEquals(keyCommand({ ...base, key: "t", target: { tagName: "INPUT", type: "search" } }, null), null);
});

// ---- the server's first screen ----------------------------------------------------------------

Deno.test("isLargeFile() opens files over --max-file-size (what the page holds whole) in the large-file view", () => {
  assertEquals(isLargeFile(16 << 20, { maxFileSize: 16 << 20 }), false);
  assertEquals(isLargeFile((16 << 20) + 1, { maxFileSize: 16 << 20 }), true);
  assertEquals(isLargeFile(2 << 20, { maxFileSize: 1 << 20 }), true);
});

Deno.test("lastScreen() keeps the file's last whole lines, where they start, and whether the last is open", () => {
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
  const text = lines.join("\n") + "\n";
  const s = lastScreen(enc.encode(text), 1000);
  assertEquals(s.text, lines.slice(-LARGE_FIRST_LINES).join("\n") + "\n");
  assertEquals(s.offset, 1000 + enc.encode(lines.slice(0, -LARGE_FIRST_LINES).join("\n") + "\n").length);
  assertEquals(s.open, false);
  const open = lastScreen(enc.encode("a\nb\nhalf"), 0);
  assertEquals(open, { text: "a\nb\nhalf", offset: 0, open: true });
  const one = lastScreen(enc.encode("x".repeat(100_000)), 0);
  assertEquals(
    [one.text.length, one.offset, one.open],
    [65_536, 100_000 - 65_536, true],
    "a line longer than the screen: its end",
  );
  assertEquals(lastScreen(new Uint8Array(), 0), { text: "", offset: 0, open: false });
});

Deno.test("renderPage() for a large file: its last screen escaped, the routes on <body>, the file's scrollbar", () => {
  const text = "a <b> line\n<script>alert(1)</script>\n";
  const html = renderPage({
    fileName: "big.log",
    view: { ok: true, lastMod: "17f0", offset: 5_000_000, size: 5_000_037, text, lossy: false },
    keepChars: 0,
    nonce: "n0nce",
    socketPath: "/logs/ws/big.log",
    rawUrl: "/logs/raw/big.log",
    large: {
      linesPath: "/logs/lines/big.log",
      searchPath: "/logs/search/big.log",
      timePath: "/logs/time/big.log",
      open: false,
    },
  });
  assert(
    html.includes(
      `data-view="large" data-lines="/logs/lines/big.log" data-search="/logs/search/big.log" data-time="/logs/time/big.log" data-open="0"`,
    ),
  );
  assert(
    html.includes(
      `<span class="ln">a &lt;b&gt; line</span><span class="ln">&lt;script&gt;alert(1)&lt;/script&gt;</span>`,
    ),
  );
  assertEquals(html.match(/<script\b/g)?.length, 1, "only the page's own script");
  assert(!/\sstyle=/.test(html), "no style attributes (CSP)");
  assert(html.includes(`role="scrollbar" aria-controls="view"`), "the file's scrollbar");
  assert(html.includes(`id="time-open"`) && html.includes(`id="results"`), "Go to time and the search's panel");
  assert(!html.includes("live-off") && !html.includes("data-live"), "always followed: no notice, nothing to turn off");
  assert(
    /<div id="window" class="notice" hidden>/.test(html),
    "no 'showing the last X of Y': the view is the whole file",
  );
});

Deno.test("renderPage() for a small file has none of the large view's parts", () => {
  const html = renderPage({
    fileName: "a.log",
    view: { ok: true, lastMod: "17f0", offset: 0, size: 2, text: "a\n", lossy: false },
    keepChars: 0,
    nonce: "n",
  });
  for (const id of ["bar", "results", "time-open", "live-off", "pane"]) assert(!html.includes(`id="${id}"`), id);
  assert(!html.includes("data-view"), "no data-view");
});

Deno.test("largePage() picks the large view by size; a file the watcher cannot read shows its error", () => {
  const route = (r: string) => `/${r}`;
  const opts = { maxFileSize: 16 << 20 };
  const bytes = enc.encode("x\n".repeat(10));
  const small = largePage({ ok: true, lastMod: "1", size: 20, offset: 0, bytes }, opts, route);
  assertEquals(small, null);
  const big = largePage({ ok: true, lastMod: "1", size: (16 << 20) + 20, offset: 16 << 20, bytes }, opts, route);
  assertEquals(big?.view, {
    ok: true,
    lastMod: "1",
    offset: 16 << 20,
    size: (16 << 20) + 20,
    text: "x\n".repeat(10),
    lossy: false,
  });
  assertEquals(big?.large.linesPath, "/lines");
  // A file over --max-file-size is followed in tail mode, so a failure is a real one (missing, unreadable):
  // the page shows it, never a large view without a version.
  assertEquals(largePage({ ok: false, error: "huge.log: permission denied" }, { maxFileSize: 1024 }, route), null);
});

Deno.test("the large page is rendered once per version too, its last screen in place of the whole text", async () => {
  const text = Array.from({ length: 500 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const snap = new Version({ seq: 1, lastMod: "17f0", kept: enc.encode(text) });
  const large = largePage(snap, { maxFileSize: 1024 }, (r) => `/${r}`);
  assert(large !== null, "over --max-file-size: the large view");
  const pages = new PageCache();
  const route = { fileName: "a.log", keepChars: 0, socketPath: "/ws", rawUrl: "/raw", ...large };
  const read = async (nonce: string) => await new Response(pages.body(snap, route, nonce).body).text();
  const a = await read("n1");
  const b = await read("n2");
  assertEquals(pages.renders, 1, "one render for two requests");
  assert(a.includes(`data-view="large"`) && b.includes(`nonce="n2"`));
  assert(a.includes(`<span class="ln">line 499</span>`), "the last line");
  assert(!a.includes(`<span class="ln">line 379</span>`), `only the last ${LARGE_FIRST_LINES} lines`);
});
