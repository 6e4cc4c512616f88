/**
 * The reading page's pure logic (docs/page.md#reading): the filter's language and
 * matching, the line diff that marks changed lines, the pause queue, line
 * links, and the line model the filter reads.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { changedLines, inRanges, MAX_DIFF_LINES, mergeRanges, shiftRanges } from "../../src/client/changes.ts";
import { countLabel, matches, matchingLines, matchRanges, parseFilter } from "../../src/client/filter.ts";
import { Lines, splitLines } from "../../src/client/lines.ts";
import { lineHash, noLinksReason, parseLineHash, parseLineInput } from "../../src/client/links.ts";
import { fold, PauseQueue, type Shown, waitingLabel } from "../../src/client/pause.ts";
import { NOTHING } from "../../src/client/text.ts";

Deno.test("parseFilter() reads plain text literally and /…/ as a regular expression, case-insensitive unless asked", () => {
  const plain = parseFilter("a.b (x)", false);
  assert(plain.kind === "ok" && !plain.regex);
  assert(matches(plain.re, "see A.B (X) here"));
  assert(!matches(plain.re, "aXb (x)"), "the dot is literal");
  const re = parseFilter("/warn|err(or)?/", false);
  assert(re.kind === "ok" && re.regex);
  assert(matches(re.re, "ERROR: disk"));
  assert(matches(re.re, "a Warning"));
  assert(!matches(re.re, "info"));
  const cased = parseFilter("/Err/", true);
  assert(cased.kind === "ok" && !matches(cased.re, "error") && matches(cased.re, "Error"));
  const casedPlain = parseFilter("GET", true);
  assert(casedPlain.kind === "ok" && !matches(casedPlain.re, "get /") && matches(casedPlain.re, "GET /"));
  assertEquals(parseFilter("", false).kind, "none");
  assertEquals(parseFilter("//", false).kind, "none");
  const slash = parseFilter("/api", false);
  assert(slash.kind === "ok" && !slash.regex && matches(slash.re, "GET /api/x"), "an unclosed /… is text");
});

Deno.test("parseFilter() turns a bad regular expression into an error with the reason, never a throw", () => {
  for (const bad of ["/(/", "/[a-/", "/a{2,1}/", "/*/", "/\\/"]) {
    const f = parseFilter(bad, false);
    assertEquals(f.kind, "error", bad);
    assert(f.kind === "error" && /Invalid regular expression|Unterminated|nothing to repeat/i.test(f.message), bad);
  }
});

Deno.test("matchRanges() finds every match in order, skips empty ones, and stops at its limit", () => {
  const f = parseFilter("o", false);
  assert(f.kind === "ok");
  assertEquals(matchRanges(f.re, "foo bOo"), [[1, 2], [2, 3], [5, 6], [6, 7]]);
  const e = parseFilter("/x*/", false);
  assert(e.kind === "ok");
  assertEquals(matchRanges(e.re, "abxxc"), [[2, 4]]);
  const anchor = parseFilter("/^/", false);
  assert(anchor.kind === "ok" && matches(anchor.re, "any"));
  assertEquals(matchRanges(anchor.re, "any"), []);
  assertEquals(matchRanges(f.re, "o".repeat(500), 10).length, 10);
});

Deno.test("matchingLines() gives the indexes of matching lines from a start", () => {
  const f = parseFilter("err", false);
  assert(f.kind === "ok");
  const lines = ["ok", "ERR 1", "fine", "an error", "err"];
  assertEquals(matchingLines(lines, f.re), [1, 3, 4]);
  assertEquals(matchingLines(lines, f.re, 2), [3, 4]);
  assertEquals(countLabel(3, 12_000), "3 of 12,000 lines");
  assertEquals(countLabel(1, 1), "1 of 1 line");
});

Deno.test("Lines follows appends (an open last line continues) and dropped lines (numbers move on)", () => {
  assertEquals(splitLines("a\nb\n"), ["a", "b"]);
  assertEquals(splitLines("a\n\nb"), ["a", "", "b"]);
  assertEquals(splitLines(""), []);
  const l = new Lines("a\nb");
  assert(l.open);
  assertEquals(l.extend("c\nd\n"), 1, "the open line changed first");
  assertEquals(l.lines, ["a", "bc", "d"]);
  assert(!l.open);
  assertEquals(l.extend("\ne"), 3);
  assertEquals(l.lines, ["a", "bc", "d", "", "e"]);
  assertEquals(l.extend("\n"), 4);
  assertEquals(l.lines, ["a", "bc", "d", "", "e"]);
  assert(!l.open);
  l.dropFront("a\nbc\n");
  assertEquals(l.lines, ["d", "", "e"]);
  assertEquals(l.base, 2);
  const whole = "x\ny\nz\n";
  const m = new Lines(whole);
  m.extend("w\n");
  assertEquals(m.lines, splitLines(whole + "w\n"));
});

Deno.test("changedLines() marks the lines a line diff finds added or changed in the new version", () => {
  assertEquals(changedLines(["a", "b", "c"], ["a", "B", "c", "d"]), { ranges: [[1, 2], [3, 4]], coarse: false });
  assertEquals(changedLines(["a", "b", "c"], ["a", "b", "c"]).ranges, []);
  assertEquals(changedLines(["a", "b", "c"], ["a", "c"]).ranges, [], "a deletion leaves nothing to mark");
  assertEquals(changedLines([], ["x", "y"]).ranges, [[0, 2]]);
  assertEquals(changedLines(["h", "1", "2", "3", "t"], ["h", "1", "x", "3", "y", "t"]).ranges, [[2, 3], [4, 5]]);
  // A line moved: the diff marks it where it now is.
  assertEquals(changedLines(["a", "b", "c", "d"], ["b", "c", "d", "a"]).ranges, [[3, 4]]);
});

Deno.test("changedLines() gives up on detail past its size and edit caps: the whole middle is marked, coarse", () => {
  const n = MAX_DIFF_LINES + 10;
  const prev = Array.from({ length: n }, (_, i) => `line ${i}`);
  const next = prev.map((l, i) => (i % 2 ? l + "!" : l));
  const big = changedLines(["head", ...prev, "tail"], ["head", ...next, "tail"]);
  assertEquals(big, { ranges: [[2, n + 1]], coarse: true }, "from the first to the last line that differs");
  const many = Array.from({ length: 5_000 }, (_, i) => `l${i}`);
  const edited = many.map((l, i) => (i % 2 ? l + "!" : l));
  const t0 = performance.now();
  const r = changedLines(many, edited);
  assert(r.coarse, "2,500 edits is past MAX_EDITS");
  assertEquals(r.ranges, [[1, 5_000]]);
  assert(performance.now() - t0 < 2_000, "and it gave up quickly");
});

Deno.test("changed-line ranges merge, move up when lines leave the front, and answer membership", () => {
  assertEquals(mergeRanges([[0, 2]], [[1, 4], [6, 7]]), [[0, 4], [6, 7]]);
  assertEquals(mergeRanges([[5, 6]], [[0, 1], [1, 3]]), [[0, 3], [5, 6]], "touching ranges join");
  assertEquals(mergeRanges([], [[3, 3], [2, 4]]), [[2, 4]], "empty ones go");
  assertEquals(shiftRanges([[0, 2], [5, 9]], 3), [[2, 6]], "a range that left entirely goes; one cut at 0");
  assertEquals(shiftRanges([[5, 9]], 0), [[5, 9]]);
  const r: [number, number][] = [[2, 4], [10, 11], [20, 30]];
  assertEquals([0, 1, 2, 3, 4, 9, 10, 11, 19, 20, 29, 30].map((i) => inRanges(r, i)), [
    false,
    false,
    true,
    true,
    false,
    false,
    true,
    false,
    false,
    true,
    true,
    false,
  ]);
  assertEquals(inRanges([], 0), false);
});

Deno.test("line links: #L120 names line 120; anything else names none", () => {
  assertEquals(parseLineHash("#L120"), 120);
  assertEquals(parseLineHash("#L1"), 1);
  for (const h of ["", "#", "#L", "#L0", "#L012", "#L12x", "#l12", "#L-1", "#top", "#L99999999999"]) {
    assertEquals(parseLineHash(h), null, h);
  }
  assertEquals(lineHash(7), "#L7");
  assertEquals(parseLineHash(lineHash(4242)), 4242);
});

Deno.test("parseLineInput() takes a line of the file, and says why for anything else", () => {
  assertEquals(parseLineInput("120", 400), { ok: true, line: 120 });
  assertEquals(parseLineInput(" 1,200 ", 5_000), { ok: true, line: 1_200 });
  assertEquals(parseLineInput("1", 1), { ok: true, line: 1 });
  assertEquals(parseLineInput("400", 400), { ok: true, line: 400 });
  assertEquals(parseLineInput("401", 400), { ok: false, message: "There is no line 401: the file has 400 lines" });
  assertEquals(parseLineInput("0", 400), { ok: false, message: "There is no line 0: the file has 400 lines" });
  assertEquals(parseLineInput("2", 1), { ok: false, message: "There is no line 2: the file has 1 line" });
  assertEquals(parseLineInput("12345678901234567890", 200_000), {
    ok: false,
    message: "There is no line 123456789012…: the file has 200,000 lines",
  });
  assertEquals(parseLineInput("abc", 400), { ok: false, message: "“abc” is not a line number" });
  assertEquals(parseLineInput("-3", 400), { ok: false, message: "“-3” is not a line number" });
  assertEquals(parseLineInput("1.5", 400), { ok: false, message: "“1.5” is not a line number" });
  assertEquals(parseLineInput("  ", 400), { ok: false, message: "Type a line number" });
  assertEquals(parseLineInput("1", 0), { ok: false, message: "The file has no lines" });
});

Deno.test("noLinksReason() says why a page that does not hold the file from its first byte makes no links", () => {
  assertEquals(noLinksReason(0, false), null);
  assertMatch(noLinksReason(4096, false)!, /tail mode/);
  assertMatch(noLinksReason(4096, true)!, /earlier lines were dropped/);
});

const held = (text: string) => ({ ...NOTHING, lastMod: text.length.toString(16), text, size: text.length });

Deno.test("PauseQueue holds changes while paused, counts them, and resume gives the newest as one change", () => {
  const q = new PauseQueue();
  const a: Shown = { kind: "extend", held: held("x\na\n"), added: "a\n", dropped: "" };
  assertEquals(q.push(a), false, "not paused: show it now");
  q.pause();
  assert(q.push(a));
  assert(q.push({ kind: "extend", held: held("x\na\nb\n"), added: "b\n", dropped: "x\n" }));
  assertEquals(q.waiting, 2);
  assertEquals(waitingLabel(q.waiting), "2 updates waiting");
  assertEquals(q.resume(), { kind: "extend", held: held("x\na\nb\n"), added: "a\nb\n", dropped: "x\n" });
  assertEquals([q.paused, q.waiting], [false, 0]);
  assertEquals(q.resume(), null, "nothing waits after a resume");
  q.pause();
  q.push(a);
  q.push({ kind: "replace", held: held("new\n") });
  q.push({ kind: "extend", held: held("new\nmore\n"), added: "more\n", dropped: "" });
  assertEquals(waitingLabel(q.waiting), "3 updates waiting");
  assertEquals(q.resume(), { kind: "replace", held: held("new\nmore\n") }, "a replacement anywhere: the newest text");
  assertEquals(waitingLabel(1), "1 update waiting");
  assertEquals(waitingLabel(0), "");
  assertEquals(fold(null, a), a);
});
