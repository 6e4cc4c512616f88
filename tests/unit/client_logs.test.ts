/**
 * Reading real logs in the page, the parts that need no browser
 * (docs/page.md#reading-real-logs): what the page knows of each line
 * (levels, entries, plain text, byte offsets) and which lines a view keeps,
 * kept in step with appends and dropped lines; a line's pieces (ANSI
 * classes, links, filter marks, a JSON line's fields); the gutter's columns;
 * marks kept per file; the view's state in the URL; the hidden tab's count;
 * and the log bar on plain objects.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import type { El } from "../../src/client/dom.ts";
import { Lines } from "../../src/client/lines.ts";
import { LEVEL_KEYS, type LevelKey, LogLines } from "../../src/client/loglines.ts";
import { LogTools, type LogToolsDom } from "../../src/client/logtools.ts";
import { Marks, MAX_MARKS } from "../../src/client/marks.ts";
import type { Shown } from "../../src/client/pause.ts";
import type { StorageLike } from "../../src/client/prefs.ts";
import { gutterColumn, nearestAnsi, overlay, styleClass, summarySegments } from "../../src/client/render.ts";
import { StatusBar, type StatusDom } from "../../src/client/status.ts";
import { NOTHING } from "../../src/client/text.ts";
import { arrivedLines, Unseen } from "../../src/client/unseen.ts";
import { lineTime, parseTime, parseViewQuery, viewQuery } from "../../src/client/viewstate.ts";
import { parseJsonLine } from "../../src/shared/structured.ts";
import { findUrls } from "../../src/shared/urls.ts";

const E = "\x1b";
const ALL = { re: null, levels: null, marked: null };

/** A Java log: an ERROR entry with its stack trace, between INFO lines. */
const JAVA = [
  "2024-06-12 10:00:00,001 INFO  [main] c.e.App - started",
  "2024-06-12 10:00:01,002 ERROR [main] c.e.App - request failed",
  "java.lang.IllegalStateException: pool exhausted",
  "\tat com.example.Pool.acquire(Pool.java:88)",
  "Caused by: java.net.SocketTimeoutException: connect timed out",
  "\t... 12 more",
  "2024-06-12 10:00:02,003 WARN  [main] c.e.App - slow",
  "2024-06-12 10:00:03,004 INFO  [main] c.e.App - done",
];

function facts(lines: string[], offset = 0): LogLines {
  const f = new LogLines();
  f.reset(lines, offset);
  return f;
}

Deno.test("LogLines keeps a stack trace with its entry: the filter, the levels and marks keep or leave the whole entry", () => {
  const f = facts(JAVA);
  assertEquals([2, 3, 4, 5].map((i) => f.continues(i)), [true, true, true, true]);
  assertEquals(f.head(4), 1);
  assertEquals(f.entryEnd(1), 6);
  assertEquals(f.entryLevel(3), "error", "a continuation takes its entry's level");
  // A word only in the trace keeps the whole entry, its first line included.
  assertEquals(f.select({ ...ALL, re: /SocketTimeout/g }).hits, [1, 2, 3, 4, 5]);
  // Levels: the error entry whole, never its lines alone.
  assertEquals(f.select({ ...ALL, levels: new Set<LevelKey>(["error"]) }).hits, [1, 2, 3, 4, 5]);
  assertEquals(f.select({ ...ALL, levels: new Set<LevelKey>(["info", "warn"]) }).hits, [0, 6, 7]);
  // A mark on a trace line keeps its entry.
  assertEquals(f.select({ ...ALL, marked: (i) => i === 3 }).hits, [1, 2, 3, 4, 5]);
  // All three at once must all agree.
  assertEquals(f.select({ re: /done|pool/g, levels: new Set<LevelKey>(["info"]), marked: null }).hits, [7]);
  assertEquals(f.select(ALL).hits, [0, 1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("LogLines counts entries per level, and lines without one as other", () => {
  const f = facts([...JAVA, "2024-06-12 10:00:04,005 [main] c.e.App - no level stated", "  indented under it"]);
  f.finish();
  assert(f.complete);
  assertEquals(f.counts(), { fatal: 0, error: 1, warn: 1, info: 2, debug: 0, trace: 0, other: 1 });
  assertEquals(f.select({ ...ALL, levels: new Set<LevelKey>(["other"]) }).hits, [8, 9]);
});

Deno.test("LogLines reads escapes out: a coloured timestamp starts an entry, the filter never matches an escape", () => {
  const lines = [
    `${E}[90m2024-06-12T10:00:00Z${E}[0m ${E}[31mERROR${E}[0m failed`,
    `${E}[90m2024-06-12T10:00:01Z${E}[0m INFO ok`,
    "  continued",
  ];
  const f = facts(lines);
  assertEquals(f.context.stamped, true, "the stamps are seen through their colours");
  assertEquals(f.continues(1), false);
  assertEquals(f.continues(2), true);
  assertEquals(f.plain(0), "2024-06-12T10:00:00Z ERROR failed");
  assertEquals(f.ownLevel(0), "error");
  assertEquals(f.select({ ...ALL, re: /\[31m|90m/g }).hits, [], "escapes are not text");
  assertEquals(f.select({ ...ALL, re: /Z ERROR f/g }).hits, [0]);
});

Deno.test("LogLines follows appends (an open line that grows, new continuations) and dropped lines, counts included", () => {
  const lines = new Lines("2024-06-12T10:00:00Z INFO start\n2024-06-12T10:00:01Z ER");
  const f = new LogLines();
  f.reset(lines.lines, 100);
  f.finish();
  assertEquals(f.ownLevel(1), null, "ER is no level yet");
  // The open line grows into an ERROR line with a trace under it.
  let first = lines.extend("ROR boom\n  at x.y(Z.java:1)\n  at x.z(Z.java:2)\n");
  f.extended(first);
  f.finish();
  assertEquals(first, 1);
  assertEquals(f.ownLevel(1), "error");
  assertEquals([f.continues(2), f.continues(3)], [true, true]);
  assertEquals(f.counts().error, 1);
  assertEquals(f.counts().info, 1);
  // Byte offsets: the first line starts at 100.
  assertEquals(f.offsetOf(0), 100);
  assertEquals(f.offsetOf(1), 100 + "2024-06-12T10:00:00Z INFO start\n".length);
  assertEquals(f.indexAt(f.offsetOf(2)), 2);
  assertEquals(f.indexAt(101), -1, "no line starts there");
  // A new entry after the trace.
  first = lines.extend("2024-06-12T10:00:02Z WARN w\n");
  f.extended(first);
  assertEquals(f.continues(4), false);
  assertEquals(f.counts().warn, 1, "appended lines are read at once when the work had caught up");
  // The first two lines leave: the trace's entry lost its first line, so its first continuation leads now.
  const gone = "2024-06-12T10:00:00Z INFO start\n2024-06-12T10:00:01Z ERROR boom\n";
  lines.dropFront(gone);
  f.dropped(2, 100 + gone.length, false);
  assertEquals(f.length, 3);
  assertEquals(f.continues(0), false);
  assertEquals(f.continues(1), true);
  assertEquals(f.offsetOf(0), 100 + gone.length);
  assertEquals(f.counts(), { fatal: 0, error: 0, warn: 1, info: 0, debug: 0, trace: 0, other: 1 });
  assertEquals(f.select({ ...ALL, re: /z\(Z/g }).hits, [0, 1]);
});

Deno.test("LogLines.select from a line answers from the first line of its entry, for a view to replace from there", () => {
  const lines = new Lines(JAVA.slice(0, 3).join("\n") + "\n");
  const f = new LogLines();
  f.reset(lines.lines, 0);
  // A continuation arrives that matches: the entry it joins is shown from its first line.
  const first = lines.extend("\tat com.example.Match.here(Match.java:1)\n");
  f.extended(first);
  assertEquals(f.select({ ...ALL, re: /Match/g }, first), { from: 1, hits: [1, 2, 3] });
});

Deno.test("LogLines does its work in slices and finishes it when asked", () => {
  const lines = Array.from({ length: 50_000 }, (_, i) => `2024-06-12T10:00:00Z ${i % 2 ? "WARN" : "INFO"} line ${i}`);
  const f = facts(lines);
  let now = 0;
  // A clock that moves 1 ms per look: a 3 ms budget is a few looks.
  const more = f.work(3, () => now++);
  assert(more, "50,000 lines take more than one slice");
  assert(!f.complete);
  const partial = f.counts();
  assert(partial.info + partial.warn < 50_000 && partial.info > 0, JSON.stringify(partial));
  while (f.work(3, () => now++));
  assert(f.complete);
  assertEquals(f.counts().warn, 25_000);
  // select() with levels finishes the work itself.
  const g = facts(lines);
  assertEquals(g.select({ ...ALL, levels: new Set<LevelKey>(["warn"]) }).hits.length, 25_000);
});

Deno.test("LogLines detects JSON lines per file, and a young file's context again as it grows", () => {
  const json = Array.from({ length: 5 }, (_, i) => JSON.stringify({ level: "info", msg: `m${i}` }));
  assertEquals(facts(json).format, "json");
  assertEquals(facts(["time=1 level=info msg=a", "time=2 level=warn msg=b"]).format, "logfmt");
  assertEquals(facts(JAVA).format, null);
  // A file that starts unstamped, then is written with stamps: its entries are read again.
  const lines = new Lines("boot\nboot 2\n");
  const f = new LogLines();
  f.reset(lines.lines, 0);
  const gen = f.generation;
  assertEquals(f.context.stamped, false);
  for (let i = 0; i < 5; i++) f.extended(lines.extend(`2024-06-12T10:00:0${i}Z INFO request ${i}\n`));
  assertEquals(f.context.stamped, true);
  assert(f.generation > gen, "started over when the context changed");
  assertEquals(f.continues(1), true, "an unstamped line in a stamped file continues the entry above");
});

Deno.test("overlay() cuts a line's segments at filter marks and links, keeping each segment's classes", () => {
  const segs = [{ text: "ERROR ", cls: "c-f1" }, { text: "see https://x.org/a now", cls: "" }];
  const text = segs.map((s) => s.text).join("");
  const pieces = overlay(segs, [[2, 8]], findUrls(text));
  assertEquals(pieces, [
    { text: "ER", cls: "c-f1" },
    { text: "ROR ", cls: "c-f1", mark: true },
    { text: "se", mark: true },
    { text: "e " },
    { text: "https://x.org/a", href: "https://x.org/a" },
    { text: " now" },
  ]);
  assertEquals(pieces.map((p) => p.text).join(""), text, "no text lost or added");
  assertEquals(overlay([], [], []), []);
  // A link across two colours is two pieces with one href (one <a>).
  const two = overlay([{ text: "http://a.b/", cls: "c-f2" }, { text: "c", cls: "" }], [], findUrls("http://a.b/c"));
  assertEquals(two.map((p) => p.href), ["http://a.b/c", "http://a.b/c"]);
  // No other scheme becomes a link.
  assertEquals(overlay([{ text: "javascript:alert(1) data:x", cls: "" }], [], findUrls("javascript:alert(1) data:x")), [
    { text: "javascript:alert(1) data:x" },
  ]);
});

Deno.test("styleClass() draws ANSI styles as classes: named colours, the nearest for 256 and 24-bit, tints under a background", () => {
  assertEquals(styleClass({}), "");
  assertEquals(styleClass({ fg: 1, bold: true }), "c-f1 c-bold");
  assertEquals(styleClass({ fg: 9, italic: true, underline: true, strike: true }), "c-f9 c-it c-ul c-st");
  assertEquals(styleClass({ fg: "#ff0000" }), "c-f9", "24-bit red is bright red");
  assertEquals(styleClass({ fg: 196 }), "c-f9", "palette 196 is (255,0,0)");
  assertEquals(styleClass({ fg: 28 }), "c-f2", "palette 28 is a dark green");
  assertEquals(styleClass({ fg: 1, bg: 4 }), "c-b4", "over a background the text keeps the theme's colour");
  assertEquals(styleClass({ fg: 3, inverse: true }), "c-b3", "inverse: the text colour becomes the background");
  assertEquals(styleClass({ inverse: true }), "c-inv");
  assertEquals(styleClass({ dim: true }), "c-dim");
  assertEquals(styleClass({ dim: true, fg: 2 }), "c-f2");
  for (let i = 0; i < 256; i++) {
    const n = nearestAnsi(i);
    assert(Number.isInteger(n) && n >= 0 && n < 16, `palette ${i} → ${n}`);
  }
  assertEquals(nearestAnsi("#FFFFFF"), 15);
  assertEquals(nearestAnsi("#000000"), 0);
});

Deno.test("summarySegments() draws a JSON line as time LEVEL message key=value, keys and time soft, ANSI in the message kept", () => {
  const s = parseJsonLine(
    `{"ts":"2024-06-12T10:00:00Z","level":"warn","msg":"${"\\u001b"}[31mslow${"\\u001b"}[0m","ms":812}`,
  )!;
  const segs = summarySegments(s);
  assertEquals(segs.map((x) => x.text).join(""), "2024-06-12T10:00:00Z WARN slow ms=812");
  assertEquals(segs.find((x) => x.text === "slow")?.cls, "c-f1");
  assertEquals(segs.find((x) => x.text === "ms=")?.cls, "s-key");
  assertEquals(segs[0], { text: "2024-06-12T10:00:00Z", cls: "s-time" });
  assertEquals(segs.find((x) => x.text === "WARN")?.cls, "s-level");
});

Deno.test("gutterColumn() tells the number, mark and toggle columns apart, numbered or not", () => {
  // 4 digits: (4 + 1.4) + 2 + 2 = 9.4ch; at 8 px a ch, 75.2 px.
  const p = 9.4 * 8;
  assertEquals(gutterColumn(4, p, 4), "number");
  assertEquals(gutterColumn(5.4 * 8 + 1, p, 4), "mark");
  assertEquals(gutterColumn(7.4 * 8 + 1, p, 4), "toggle");
  assertEquals(gutterColumn(p + 1, p, 4), "text");
  // No numbers: the gutter is the mark column and the toggle column.
  assertEquals(gutterColumn(3, 32, 0), "mark");
  assertEquals(gutterColumn(20, 32, 0), "toggle");
  assertEquals(gutterColumn(40, 32, 0), "text");
});

/** A Storage that keeps what it is given. */
class MemoryStorage implements StorageLike {
  map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
}

Deno.test("Marks are kept per file across a reload, by byte offset; unreadable storage keeps none and never throws", () => {
  const storage = new MemoryStorage();
  const a = new Marks(storage, "/f/app.log");
  assertEquals(a.toggle(120), true);
  assertEquals(a.toggle(0), true);
  assertEquals(a.toggle(0), false);
  const again = new Marks(storage, "/f/app.log");
  assert(again.has(120) && !again.has(0));
  assertEquals(again.size, 1);
  assertEquals(new Marks(storage, "/f/other.log").size, 0, "another file has its own");
  storage.map.set("filewatch.marks:/bad", "{not json");
  assertEquals(new Marks(storage, "/bad").size, 0);
  storage.map.set("filewatch.marks:/odd", JSON.stringify([1, -2, "x", 1.5, 3]));
  assertEquals(new Marks(storage, "/odd").size, 2);
  const refused = Marks.open(() => {
    throw new Error("SecurityError");
  }, "/x");
  assertEquals(refused.toggle(5), true, "still marks for this visit");
  const full = new Marks({
    getItem: () => null,
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
  }, "/y");
  assertEquals(full.toggle(7), true);
  const many = new Marks(storage, "/many");
  for (let i = 0; i <= MAX_MARKS; i++) many.toggle(i);
  assertEquals(many.size, MAX_MARKS);
  assert(!many.has(0) && many.has(MAX_MARKS), "the oldest went");
});

Deno.test("the view's state goes into the query and back; other keys and the #L fragment's place are left alone", () => {
  const state = {
    filter: "/err(or)?/",
    matchCase: true,
    levels: ["fatal", "error"] as LevelKey[],
    markedOnly: true,
    fields: false,
    paused: true,
  };
  const q = viewQuery(state, "?x=1", true);
  assertEquals(q, "?x=1&q=%2Ferr%28or%29%3F%2F&case=1&levels=fatal,error&marked=1&fields=0&pause=1");
  assertEquals(parseViewQuery(q), state);
  assertEquals(
    viewQuery({ filter: "", levels: null, fields: true, paused: false }, "", true),
    "",
    "defaults: no query",
  );
  assertEquals(viewQuery({ filter: "a", levels: null }, "?q=old&case=1", true), "?q=a", "its own keys are rewritten");
  assertEquals(parseViewQuery("?levels=ERROR,nonsense,warn"), { levels: ["error", "warn"] });
  assertEquals(parseViewQuery("?levels="), { levels: [] }, "no level shown is a state too");
  assertEquals(parseViewQuery("?t=2024-06-12T10:00:00Z"), { time: "2024-06-12T10:00:00Z" });
  assertEquals(parseViewQuery(""), {});
});

Deno.test("parseTime() and lineTime() read RFC 3339 (offset or none = UTC) and epoch ms", () => {
  assertEquals(parseTime("2024-06-12T10:00:00Z"), Date.UTC(2024, 5, 12, 10));
  assertEquals(parseTime("2024-06-12 10:00:00.5"), Date.UTC(2024, 5, 12, 10, 0, 0, 500));
  assertEquals(parseTime("2024-06-12T12:00:00+02:00"), Date.UTC(2024, 5, 12, 10));
  assertEquals(parseTime("2024-06-12T12:00:00+0200"), Date.UTC(2024, 5, 12, 10));
  assertEquals(parseTime("1718186400000"), 1718186400000);
  assertEquals(parseTime("yesterday"), null);
  assertEquals(lineTime("2024-06-12 10:00:01,002 ERROR x"), Date.UTC(2024, 5, 12, 10, 0, 1, 2));
  assertEquals(lineTime('{"msg":"x"}', "2024-06-12T10:00:00Z"), Date.UTC(2024, 5, 12, 10));
  assertEquals(lineTime("no time here"), null);
});

Deno.test("a hidden tab counts the lines that arrive, in its title, and forgets them when seen", () => {
  const ext = (added: string): Shown => ({ kind: "extend", held: NOTHING, added, dropped: "" });
  assertEquals(arrivedLines(ext("a\nb\n"), 10), 2);
  assertEquals(arrivedLines(ext("part"), 10), 0);
  assertEquals(arrivedLines({ kind: "replace", held: { ...NOTHING, text: "a\nb\nc\n" } }, 1), 2);
  assertEquals(arrivedLines({ kind: "replace", held: { ...NOTHING, text: "a\n" } }, 5), 1);
  let hidden = false;
  const shown: number[] = [];
  const u = new Unseen(() => hidden, (n) => shown.push(n));
  u.arrived(ext("x\n"), 0);
  assertEquals(shown, [], "a visible tab counts nothing");
  hidden = true;
  u.arrived(ext("x\ny\n"), 0);
  u.arrived(ext("z\n"), 0);
  hidden = false;
  u.seen();
  assertEquals(shown, [2, 3, 0]);
  // The title: (12) app.log — filewatch, after the connection's prefix.
  const doc = { title: "app.log — filewatch" };
  const el = () => ({
    hidden: false,
    textContent: "",
    title: "",
    dataset: {},
    classList: { add() {}, remove() {}, toggle: () => true, contains: () => false },
    setAttribute() {},
    getAttribute: () => null,
    focus() {},
  });
  const dom = {
    body: el(),
    status: el(),
    statusText: el(),
    banner: { ...el(), hidden: true },
    bannerText: el(),
    bannerKeep: el(),
    notice: el(),
    windowBox: el(),
    windowText: el(),
    dropped: el(),
    size: el(),
    updatedWrap: el(),
    updated: { ...el(), dateTime: "" },
    updatedAgo: el(),
    doc,
  } as unknown as StatusDom;
  const status = new StatusBar(dom, "");
  status.setUnseen(12);
  assertEquals(doc.title, "(12) app.log — filewatch");
  status.showConnection({ status: "waiting", everConnected: true, retryAt: Date.now() + 3000, closed: "" });
  assertEquals(doc.title, "(reconnecting) (12) app.log — filewatch");
  status.setUnseen(0);
  assertEquals(doc.title, "(reconnecting) app.log — filewatch");
});

/** An element as a plain object. */
function fakeEl(): El & { attrs: Map<string, string> } {
  const attrs = new Map<string, string>();
  return {
    hidden: false,
    textContent: "",
    title: "",
    dataset: {},
    attrs,
    classList: { add() {}, remove() {}, toggle: () => true, contains: () => false },
    setAttribute: (k, v) => void attrs.set(k, v),
    getAttribute: (k) => attrs.get(k) ?? null,
    focus() {},
  };
}

Deno.test("the log bar toggles levels (showing counts, hiding levels the log has none of), Marked and Fields", () => {
  const lines = [...JAVA, "2024-06-12 10:00:04,005 DEBUG [main] c.e.App - x"];
  const f = facts(lines);
  f.finish();
  let levels: ReadonlySet<LevelKey> | null = null;
  let markedOnly = false;
  const log = {
    get levels() {
      return levels;
    },
    setLevels: (l: ReadonlySet<LevelKey> | null) => void (levels = l),
    get markedOnly() {
      return markedOnly;
    },
    setMarkedOnly: (on: boolean) => void (markedOnly = on),
    fields: true,
    format: null,
    markCount: 3,
    facts: f,
  };
  const dom: LogToolsDom = {
    bar: fakeEl(),
    levels: new Map(LEVEL_KEYS.map((k) => [k, { button: fakeEl(), count: fakeEl() }])),
    marked: fakeEl(),
    markCount: fakeEl(),
    fields: fakeEl(),
  };
  const calls: string[] = [];
  const tools = new LogTools(log, dom, {
    select: () => calls.push("select"),
    redraw: () => calls.push("redraw"),
    fieldsChosen: (on) => calls.push(`fields ${on}`),
  });
  tools.paint();
  const shown = () => LEVEL_KEYS.filter((k) => !dom.levels.get(k)!.button.hidden);
  assertEquals(shown(), ["error", "warn", "info", "debug"]);
  assertEquals(dom.levels.get("info")!.count.textContent, "2");
  assertEquals(dom.markCount.textContent, "3");
  tools.toggleLevel("info");
  assertEquals(tools.state.levels, ["fatal", "error", "warn", "debug", "trace", "other"]);
  assertEquals(dom.levels.get("info")!.button.getAttribute("aria-pressed"), "false");
  assertEquals(shown(), ["error", "warn", "info", "debug"], "a hidden level stays, to be shown again");
  tools.toggleLevel("info");
  assertEquals(tools.state.levels, null, "every level shown is no selection");
  tools.setLevels(["error", "bogus" as LevelKey]);
  assertEquals(tools.state.levels, ["error"]);
  tools.toggleMarked();
  assertEquals(tools.state.markedOnly, true);
  assertEquals(dom.marked.getAttribute("aria-pressed"), "true");
  assertEquals(dom.fields.hidden, true, "Fields only for a structured file");
  tools.toggleFields();
  assertEquals(tools.state.fields, false);
  assertEquals(calls, ["select", "select", "select", "select", "redraw", "fields false"]);
});
