/**
 * The page's controllers that need no layout, on plain objects standing in
 * for their elements: the status (connection, title, banner, notices), the
 * reading tools (filter, match case, pause), Go to line, the keys, the theme
 * and the remembered preferences; and the pure parts they lean on (the line
 * renderer, what the server's page starts the script with). The text pane
 * itself lays out text, so Chromium covers it (tests/browser/).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { FakeEl, FakeTimers } from "../helpers/fake_dom.ts";
import type { KeyPress } from "../../src/client/dom.ts";
import { SHOWING_MS } from "../../src/client/box.ts";
import { GoTo, REASON_MS } from "../../src/client/goto.ts";
import { keyCommand, typing } from "../../src/client/keys.ts";
import type { Shown } from "../../src/client/pause.ts";
import { Prefs, type StorageLike } from "../../src/client/prefs.ts";
import { plainLine } from "../../src/client/render.ts";
import { type Connection, StatusBar, type StatusDom } from "../../src/client/status.ts";
import { NOTHING, pageStart } from "../../src/client/text.ts";
import { nextTheme, ThemeButton } from "../../src/client/theme.ts";
import { ReadingTools } from "../../src/client/tools.ts";
import type { Filter } from "../../src/client/filter.ts";

function statusDom() {
  const el = (id: string) => new FakeEl(id);
  const dom = {
    body: el("body"),
    status: el("status"),
    statusText: el("status-text"),
    banner: el("banner"),
    bannerText: el("banner-text"),
    bannerKeep: el("banner-keep"),
    notice: el("notice"),
    windowBox: el("window"),
    windowText: el("window-text"),
    dropped: el("dropped"),
    size: el("size"),
    updatedWrap: el("updated-wrap"),
    updated: el("updated"),
    updatedAgo: el("updated-ago"),
    doc: { title: "app.log — filewatch" },
  } satisfies StatusDom;
  dom.banner.hidden = true;
  return dom;
}

const conn = (c: Partial<Connection>): Connection => ({
  status: "connecting",
  everConnected: false,
  retryAt: null,
  closed: "",
  ...c,
});

/** A version token for `ms` since the epoch, as the server writes them. */
const token = (ms: number) => ((BigInt(ms) * 1_000_000n) << 64n | 0xabcn).toString(16);

Deno.test("StatusBar says how the connection stands, in the status and the tab title", () => {
  const clock = new FakeTimers();
  const dom = statusDom();
  const status = new StatusBar(dom, "", () => clock.now);
  status.showConnection(conn({}));
  assertEquals([dom.statusText.textContent, dom.status.dataset.state], ["connecting…", "connecting"]);
  assertEquals(dom.doc.title, "(connecting) app.log — filewatch");
  status.showConnection(
    conn({ status: "waiting", everConnected: true, retryAt: clock.now + 2_500, closed: "closed: 1006" }),
  );
  assertEquals(dom.statusText.textContent, "reconnecting in 3s");
  assertEquals([dom.status.dataset.retryAt, dom.status.title], [String(clock.now + 2_500), "closed: 1006"]);
  assertEquals(dom.doc.title, "(reconnecting) app.log — filewatch");
  clock.advance(1_000);
  status.tick(conn({ status: "waiting", everConnected: true, retryAt: clock.now + 1_500 }));
  assertEquals(dom.statusText.textContent, "reconnecting in 2s", "the countdown moves on each tick");
  status.showConnection(conn({ status: "offline" }));
  assertEquals([dom.statusText.textContent, dom.doc.title], ["offline", "(offline) app.log — filewatch"]);
  status.showConnection(conn({ status: "connected", everConnected: true }));
  assertEquals([dom.statusText.textContent, dom.doc.title], ["connected", "app.log — filewatch"]);
  status.showError("app.log: file not found", true);
  status.showConnection(conn({ status: "connected", everConnected: true }));
  assertEquals(dom.doc.title, "(error) app.log — filewatch");
});

Deno.test("StatusBar shows an error over the content and takes it away", () => {
  const dom = statusDom();
  const status = new StatusBar(dom, "");
  assertEquals(status.error, null);
  status.showError("app.log: file not found", true);
  assertEquals([dom.banner.hidden, dom.bannerText.textContent, dom.bannerKeep.hidden], [
    false,
    "app.log: file not found",
    false,
  ]);
  assert(dom.body.classes.has("stale"), "the content dims");
  assertEquals(status.error, "app.log: file not found");
  status.showError("gone", false);
  assertEquals(dom.bannerKeep.hidden, true, "no 'showing the last content' without content");
  status.showError(null, false);
  assertEquals([dom.banner.hidden, dom.body.classes.has("stale"), status.error], [true, false, null]);
});

Deno.test("StatusBar says which part of the file is shown, and whether its line numbers make links", () => {
  const dom = statusDom();
  const status = new StatusBar(dom, "");
  status.showText({ ...NOTHING, lastMod: "a1", offset: 0, size: 2048, text: "x", lossy: true });
  assertEquals([dom.size.textContent, dom.windowBox.hidden, dom.notice.hidden, dom.dropped.hidden], [
    "2 KiB",
    true,
    false,
    true,
  ]);
  assertEquals([dom.body.dataset.lastMod, dom.body.dataset.offset, dom.body.dataset.size], ["a1", "0", "2048"]);
  assert(dom.body.classes.has("linkable"));
  status.showText({ ...NOTHING, lastMod: "b2", offset: 1024, size: 4096, text: "x", dropped: true });
  assertEquals(dom.windowText.textContent, "Showing the last 3 KiB of 4 KiB.");
  assertEquals([dom.windowBox.hidden, dom.dropped.hidden, dom.notice.hidden], [false, false, true]);
  assert(!dom.body.classes.has("linkable"), "a page that starts inside the file makes no line links");
});

Deno.test("StatusBar says when the shown version was modified, from its token, and how long ago", () => {
  const clock = new FakeTimers();
  const dom = statusDom();
  dom.updatedWrap.hidden = true;
  const status = new StatusBar(dom, "not a token", () => clock.now);
  status.showModified();
  assert(dom.updatedWrap.hidden, "no time to show");
  status.tick(conn({ status: "connected" }));
  assertEquals(dom.updatedAgo.textContent, "", "nothing ticks without a time");
  status.received(token(clock.now - 42_000));
  status.showModified();
  assertEquals([dom.updatedWrap.hidden, dom.updated.dateTime], [false, new Date(clock.now - 42_000).toISOString()]);
  status.tick(conn({ status: "connected" }));
  assertEquals(dom.updatedAgo.textContent, "42 s ago");
  clock.advance(5 * 60_000);
  status.tick(conn({ status: "connected" }));
  assertEquals(dom.updatedAgo.textContent, "5 min ago");
});

function toolsSetup() {
  const dom = {
    box: new FakeEl("filter"),
    caseButton: new FakeEl("case"),
    count: new FakeEl("filter-count"),
    pause: new FakeEl("pause"),
    waiting: new FakeEl("waiting"),
    body: new FakeEl("body"),
  };
  dom.caseButton.setAttribute("aria-pressed", "false");
  const filters: Filter[] = [];
  const resumed: (Shown | null)[] = [];
  const tools = new ReadingTools(dom, { filter: (f) => filters.push(f), resume: (n) => resumed.push(n) });
  return { dom, tools, filters, resumed };
}

Deno.test("ReadingTools reads the filter box, counts what the pane reports, and says why a regex is bad", () => {
  const { dom, tools, filters } = toolsSetup();
  dom.box.value = "error";
  tools.apply();
  const f = filters.at(-1)!;
  assert(f.kind === "ok" && f.re.flags.includes("i"), "case ignored");
  tools.count(3, 1200);
  assertEquals(dom.count.textContent, "3 of 1,200 lines");
  tools.toggleCase();
  assertEquals(dom.caseButton.getAttribute("aria-pressed"), "true");
  const cased = filters.at(-1)!;
  assert(cased.kind === "ok" && !cased.re.flags.includes("i"), "match case applied at once");
  dom.box.value = "/(unclosed/";
  tools.apply();
  assertEquals(filters.at(-1)!.kind, "error");
  assertEquals(dom.box.getAttribute("aria-invalid"), "true");
  assert(dom.count.classes.has("bad"));
  assert(dom.count.textContent!.startsWith("Invalid regular expression: /(unclosed/"), dom.count.textContent!);
  assertEquals(tools.state, { filter: "/(unclosed/", matchCase: true, paused: false });
  assertEquals(tools.clear(), true);
  assertEquals([filters.at(-1)!.kind, dom.count.textContent, dom.box.getAttribute("aria-invalid")], [
    "none",
    "",
    "false",
  ]);
  assertEquals(tools.clear(), false, "nothing to clear: Esc moves on");
  tools.setFilter("warn", false);
  assertEquals([dom.box.value, dom.caseButton.getAttribute("aria-pressed"), tools.filter.kind], [
    "warn",
    "false",
    "ok",
  ]);
});

Deno.test("ReadingTools holds changes while paused, says how many wait, and resumes with them as one", () => {
  const { dom, tools, resumed } = toolsSetup();
  const extend = (added: string): Shown => ({ kind: "extend", held: { ...NOTHING, text: added }, added, dropped: "" });
  assertEquals(tools.hold(extend("a\n")), false, "not paused: show it now");
  tools.togglePause();
  assertEquals([dom.pause.getAttribute("aria-pressed"), dom.pause.textContent], ["true", "Resume"]);
  assert(dom.body.classes.has("paused"));
  assertEquals(tools.hold(extend("b\n")), true);
  assertEquals(tools.hold(extend("c\n")), true);
  assertEquals(dom.waiting.textContent, "2 updates waiting");
  assertEquals(tools.state.paused, true);
  tools.togglePause();
  assertEquals([dom.pause.getAttribute("aria-pressed"), dom.pause.textContent, dom.waiting.textContent], [
    "false",
    "Pause",
    "",
  ]);
  assert(!dom.body.classes.has("paused"));
  const newest = resumed.at(-1);
  assert(newest?.kind === "extend" && newest.added === "b\nc\n", JSON.stringify(newest));
  tools.togglePause();
  tools.togglePause();
  assertEquals(resumed.at(-1), null, "nothing waited");
});

function gotoSetup(linksOff: string | null = null, lines = 400) {
  FakeEl.focused = [];
  const timers = new FakeTimers();
  const dom = {
    button: new FakeEl("goto-open"),
    form: new FakeEl("goto"),
    input: new FakeEl("goto-line"),
    msg: new FakeEl("goto-msg"),
    home: new FakeEl("view"),
    focusedNow: null as FakeEl | null,
    focused: () => dom.focusedNow,
  };
  dom.form.hidden = true;
  const went: number[] = [];
  const goTo = new GoTo(dom, { linksOff: () => linksOff, lines: () => lines, go: (n) => went.push(n) }, timers);
  return { dom, goTo, went, timers };
}

Deno.test("GoTo opens a box, goes to a line typed, says what is wrong with anything else", () => {
  const { dom, goTo, went, timers } = gotoSetup();
  dom.focusedNow = new FakeEl("pause");
  goTo.show();
  assertEquals([goTo.open, dom.button.getAttribute("aria-expanded"), FakeEl.focused], [true, "true", ["goto-line"]]);
  assertEquals(dom.input.selected, 1);
  dom.input.value = "abc";
  goTo.submit();
  assertEquals([dom.msg.textContent, dom.input.getAttribute("aria-invalid"), goTo.open], [
    "“abc” is not a line number",
    "true",
    true,
  ]);
  dom.input.value = "401";
  goTo.submit();
  assertEquals(dom.msg.textContent, "There is no line 401: the file has 400 lines");
  assertEquals(went, [], "no line for bad input");
  dom.input.value = "1,250";
  goTo.submit();
  assertEquals(dom.msg.textContent, "There is no line 1250: the file has 400 lines");
  assertEquals(went, [], "no line for bad input");
  dom.input.value = "250";
  goTo.submit();
  assertEquals(went, [250]);
  assertEquals([goTo.open, dom.input.value, dom.button.getAttribute("aria-expanded")], [false, "", "false"]);
  assertEquals(FakeEl.focused.at(-1), "view", "focus on the content, where PageDown scrolls");
  assertEquals([dom.msg.textContent, dom.input.getAttribute("aria-invalid")], ["Showing line 250", "false"]);
  timers.advance(SHOWING_MS);
  assertEquals(dom.msg.textContent, "", "the message goes after a while");
});

Deno.test("GoTo closes on Esc with focus back where it was, and on its button with focus on the button", () => {
  const { dom, goTo, went } = gotoSetup();
  dom.focusedNow = new FakeEl("case");
  goTo.show();
  let stopped = 0;
  const key = (k: string): KeyPress => ({
    key: k,
    ctrlKey: false,
    metaKey: false,
    altKey: false,
    isComposing: false,
    target: dom.input,
    preventDefault: () => {},
    stopPropagation: () => void stopped++,
  });
  goTo.keydown(key("7"));
  assert(goTo.open, "other keys are typing");
  goTo.keydown(key("Escape"));
  assertEquals([goTo.open, FakeEl.focused.at(-1), stopped, went], [false, "case", 1, []]);
  goTo.toggle();
  assert(goTo.open);
  goTo.toggle();
  assertEquals([goTo.open, FakeEl.focused.at(-1)], [false, "goto-open"]);
});

Deno.test("GoTo opens no box where line numbers make no links, and says why for a while", () => {
  const why =
    "Line links are off: this page shows the last part of the file (tail mode), so its line numbers are not the file's";
  const { dom, goTo, timers } = gotoSetup(why);
  goTo.show();
  assertEquals([goTo.open, dom.msg.textContent, dom.msg.classes.has("bad")], [false, why, false]);
  timers.advance(REASON_MS - 1);
  assertEquals(dom.msg.textContent, why, "still there to be read");
  timers.advance(1);
  assertEquals(dom.msg.textContent, "");
});

Deno.test("keyCommand() gives / g and Esc outside text boxes; Esc also in the filter; never with a modifier", () => {
  const filterBox = { tagName: "INPUT", type: "search" };
  const press = (key: string, target: unknown, mods: Partial<KeyPress> = {}) =>
    keyCommand({ key, target, ctrlKey: false, metaKey: false, altKey: false, isComposing: false, ...mods }, filterBox);
  const body = { tagName: "BODY" };
  assertEquals([press("/", body), press("g", body), press("Escape", body), press("x", body)], [
    "filter",
    "goto",
    "escape",
    null,
  ]);
  assertEquals([press("/", filterBox), press("g", filterBox), press("Escape", filterBox)], [null, null, "escape"]);
  const checkbox = { tagName: "INPUT", type: "checkbox" };
  assertEquals(press("g", checkbox), "goto", "a checkbox takes no text");
  assertEquals(press("Escape", { tagName: "INPUT", type: "text" }), null, "Esc in another box is the box's");
  assertEquals([press("/", body, { ctrlKey: true }), press("g", body, { isComposing: true })], [null, null]);
  assertEquals(
    [typing({ tagName: "TEXTAREA" }), typing({ tagName: "DIV", isContentEditable: true }), typing(null)],
    [true, true, false],
  );
});

/** Storage in a Map; `fail` makes every call throw (privacy mode, a full quota). */
class FakeStorage implements StorageLike {
  map = new Map<string, string>();
  fail = false;
  getItem(key: string) {
    if (this.fail) throw new Error("SecurityError");
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    if (this.fail) throw new Error("QuotaExceededError");
    this.map.set(key, value);
  }
}

Deno.test("Prefs remembers under filewatch.*, and forgets quietly when storage refuses", () => {
  const storage = new FakeStorage();
  const prefs = Prefs.open(() => storage);
  prefs.save("wrap", true);
  prefs.save("theme", "dark");
  assertEquals([...storage.map], [["filewatch.wrap", "1"], ["filewatch.theme", "dark"]]);
  assertEquals([prefs.flag("wrap"), prefs.flag("numbers"), prefs.text("theme")], [true, false, "dark"]);
  storage.fail = true;
  prefs.save("wrap", false);
  assertEquals([prefs.flag("wrap"), prefs.text("theme")], [false, null]);
  const none = Prefs.open(() => {
    throw new Error("SecurityError: storage disabled");
  });
  none.save("wrap", true);
  assertEquals(none.flag("wrap"), false);
});

Deno.test("ThemeButton starts from the saved theme and cycles auto, light, dark, remembering it", () => {
  const storage = new FakeStorage();
  storage.map.set("filewatch.theme", "dark");
  const dom = { button: new FakeEl("theme"), root: { dataset: {} as { [key: string]: string | undefined } } };
  const theme = new ThemeButton(dom, Prefs.open(() => storage));
  assertEquals([theme.theme, dom.root.dataset.theme, dom.button.textContent], ["dark", "dark", "Theme: dark"]);
  theme.cycle();
  assertEquals([theme.theme, "theme" in dom.root.dataset, dom.button.textContent], ["auto", false, "Theme: auto"]);
  assertEquals(storage.map.get("filewatch.theme"), "auto");
  theme.cycle();
  assertEquals([dom.root.dataset.theme, storage.map.get("filewatch.theme")], ["light", "light"]);
  assertEquals([nextTheme("light"), nextTheme("dark"), nextTheme("sepia")], ["dark", "auto", "auto"]);
});

Deno.test("plainLine() shows the line as it is, its marks marked, with no empty piece", () => {
  assertEquals(plainLine("an error here", [[3, 8]]), [{ text: "an " }, { text: "error", mark: true }, {
    text: " here",
  }]);
  assertEquals(plainLine("ab", [[0, 1], [1, 2]]), [{ text: "a", mark: true }, { text: "b", mark: true }]);
  assertEquals(plainLine("", []), []);
  assertEquals(plainLine("<b>x</b>", []), [{ text: "<b>x</b>" }]);
});

Deno.test("pageStart() reads the server's page: which bytes the text is, and the bound in characters", () => {
  const { first, keepChars } = pageStart(
    { lastMod: "17f0", offset: "3000", size: "5120", keep: "8192" },
    "tail\n",
    true,
  );
  assertEquals(first, { lastMod: "17f0", offset: 3000, size: 5120, text: "tail\n", lossy: true, dropped: false });
  assertEquals(keepChars, 8192);
  const odd = pageStart({ offset: "-1", size: "1e400", keep: "x" }, "", false);
  assertEquals([odd.first.lastMod, odd.first.offset, odd.first.size, odd.keepChars], ["", 0, 0, 0]);
});
