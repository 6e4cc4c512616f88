/**
 * The page's script: finds the server-rendered page's elements, hands them
 * to the controllers, and wires the browser's events and the {@link Live}
 * connection to them. scripts/build-client.mjs bundles this file and what it
 * imports into src/client_bundle.ts, the one script the page inlines.
 *
 * The controllers, each given its elements and what it may ask of the others:
 * - {@link ContentView} (content.ts): the text pane: text or filtered lines,
 *   line numbers, wrap, changed and linked lines, follow mode;
 * - {@link ReadingTools} (tools.ts): the filter box, match case, Pause;
 * - {@link GoTo} (goto.ts): the Go to line box;
 * - {@link StatusBar} (status.ts): connection state, title, banner, notices;
 * - {@link ThemeButton} (theme.ts), with {@link Prefs} (prefs.ts) remembering;
 * - {@link keyCommand} (keys.ts): `/`, `g`, `t` and Esc;
 * - on a file larger than the page holds (`data-view="large"`), the
 *   large-file view instead of ContentView: {@link largeView} (large.ts)
 *   wires {@link BigView}, the server search and Go to time;
 * - reading real logs: {@link LogView} (logview.ts) draws and chooses the
 *   lines (levels, colours, entries, links, marks, JSON lines), in the
 *   large-file view {@link WindowLog} (windowlog.ts) those of its window;
 *   {@link LogTools} (logtools.ts) is the bar of level toggles, Marked and
 *   Fields, {@link LineCursor} (cursor.ts) the keyboard's line (`j`, `k`,
 *   `m`, Enter) and clicks on a line's gutter; the view's state goes into the
 *   URL (viewstate.ts) and a hidden tab counts new lines in its title
 *   (unseen.ts).
 *
 * What the page starts from comes from the server's HTML: the text in
 * `<pre id="content">` and, on `<body>`, `data-last-mod`, `data-offset`,
 * `data-size` (which bytes of which version that text is) and `data-keep`
 * (the most characters to keep on screen; 0 = no bound). docs/page.md says
 * what a reader sees.
 * @module
 */
import { browserEnv, browserTimers, wireBox } from "./browser.ts";
import type { BigView } from "./bigview.ts";
import { ContentView } from "./content.ts";
import { GoTo } from "./goto.ts";
import { keyCommand } from "./keys.ts";
import { largeView } from "./large.ts";
import { lineHash } from "./links.ts";
import { Live } from "./live.ts";
import type { Pane } from "./pane.ts";
import { Prefs } from "./prefs.ts";
import { StatusBar } from "./status.ts";
import { type FileText, pageStart, trimHeld } from "./text.ts";
import { ThemeButton } from "./theme.ts";
import { ReadingTools } from "./tools.ts";
import { LineCursor } from "./cursor.ts";
import { LEVEL_KEYS } from "./loglines.ts";
import { LogTools } from "./logtools.ts";
import { LogView } from "./logview.ts";
import { Marks } from "./marks.ts";
import { Unseen } from "./unseen.ts";
import { WindowLog } from "./windowlog.ts";
import { parseTime, parseViewQuery, viewQuery } from "./viewstate.ts";

// The HTML before this script is parsed: what follows is this script's own start-up (bench/page.ts reads it).
performance.mark("filewatch:start");

const byId = (id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Cannot start the page: no element #${id}`);
  return el;
};
const body = document.body;
const view = byId("view");
const pre = byId("content");
const filterBox = byId("filter") as HTMLInputElement;
const linkTo = (n: number) => history.pushState(null, "", lineHash(n));
const large = body.dataset.view === "large";
/** Characters of appended text the connection keeps in the large-file view (it needs their end, not their text). */
const LARGE_HELD_CHARS = 256 * 1024;

const status = new StatusBar({
  body,
  status: byId("status"),
  statusText: byId("status-text"),
  banner: byId("banner"),
  bannerText: byId("banner-text"),
  bannerKeep: byId("banner-keep"),
  notice: byId("notice"),
  windowBox: byId("window"),
  windowText: byId("window-text"),
  dropped: byId("dropped"),
  size: byId("size"),
  updatedWrap: byId("updated-wrap"),
  updated: byId("updated") as HTMLTimeElement,
  updatedAgo: byId("updated-ago"),
  doc: document,
}, body.dataset.lastMod ?? "");

const { first, keepChars } = pageStart(
  body.dataset,
  // The text nodes' data joined, not pre.textContent: on 16 MiB, a third of the time (Chromium 156).
  // A chunk that had escapes carries its text as it is in data-raw (the server wrote it without them).
  large ? "" : Array.from(pre.childNodes, (n) => (n as HTMLElement).dataset?.raw ?? n.textContent ?? "").join(""),
  status.lossy,
);
const prefs = Prefs.open(() => localStorage);

// ---- reading real logs: the reader each view draws with (docs/page.md#reading-real-logs) ----
const marks = Marks.open(() => localStorage, location.pathname);
const log = new LogView(marks, {
  redrawLine: (i) => small?.redrawLine(i),
  redraw: () => small?.redraw(),
});
const win = large
  ? new WindowLog(marks, pre, { changed: () => logTools?.paint(), redraw: () => big?.view.redraw() })
  : null;
const fieldsDefault = prefs.text("fields") !== "0";
const fromUrl = parseViewQuery(location.search);
log.fields = fromUrl.fields ?? fieldsDefault;
if (win) win.fields = log.fields;

const tools: ReadingTools = new ReadingTools({
  box: filterBox,
  caseButton: byId("case"),
  count: byId("filter-count"),
  pause: byId("pause"),
  waiting: byId("waiting"),
  body,
}, {
  filter(filter) {
    if (big) big.search.run(filter, filterBox.value, tools.state.matchCase);
    else small!.setFilter(filter);
    saveView();
  },
  resume(newest) {
    if (newest) {
      content.show(newest);
      status.showModified();
    }
    // Resume shows the newest: the end, following again.
    content.followEnd();
    logChanged();
  },
});

const big = large
  ? largeView({
    body,
    byId,
    prefs,
    status,
    tools: () => tools,
    goTo: () => goTo,
    linkTo,
    draw: win!,
    searchLevel: () => win!.searchLevel(),
  })
  : null;
const content: Pane = big?.view ?? new ContentView({
  body,
  view,
  pre,
  filtered: byId("filtered"),
  below: byId("below"),
  wrap: byId("wrap") as HTMLInputElement,
  numbers: byId("numbers") as HTMLInputElement,
}, {
  shown: (text) => status.showText(text),
  counted: (hits, total) => tools.count(hits, total),
  clearFilter() {
    tools.clear();
    logTools.showAll(); // levels and marks too: the line in its context
  },
  linked: linkTo,
  reader: log,
}, prefs);
const small = big ? null : content as ContentView;

const goTo = wireBox(
  byId,
  { button: "goto-open", form: "goto", input: "goto-line", msg: "goto-msg" },
  view,
  (dom) =>
    new GoTo(dom, {
      linksOff: () => content.linksOff(),
      lines: () => content.lineCount,
      go(n) {
        linkTo(n);
        content.goToLine(n, true);
      },
    }, browserTimers),
);

const theme = new ThemeButton({ button: byId("theme"), root: document.documentElement }, prefs);

// Held lines beyond the bound (a page rendered before the server knew it)
// leave before anything is shown.
// The large-file view holds none of the text: only which version of the file it shows, and its size.
const start: FileText = large ? { ...first, offset: first.size, text: "" } : trimHeld(first, keepChars);
const live: Live = new Live(
  browserEnv(body.dataset.socket),
  {
    change(change) {
      status.received(change.held.lastMod);
      unseen.arrived(change, content.lineCount);
      if (tools.hold(change)) return;
      content.show(change);
      status.showModified();
      logChanged();
    },
    error(message) {
      status.received();
      status.showError(message, content.hasText);
    },
    status: () => status.showConnection(live),
  },
  start,
  // The large-file view keeps only what follows its version, a little of it (its lines are in the view).
  large ? LARGE_HELD_CHARS : keepChars,
  status.error,
);

// ---- events ---------------------------------------------------------------
// Back on the network: a socket from before may be dead without knowing it
// (no close arrives until TCP gives up), so start a new one; resuming makes
// that cheap.
addEventListener("online", () => live.reconnectNow(true));
addEventListener("offline", () => live.wentOffline());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") live.reconnectNow(false);
});
// Page restored from the back/forward cache: its socket was closed.
addEventListener("pageshow", (ev) => {
  if (ev.persisted) live.reconnectNow(false);
});

byId("wrap").addEventListener("change", () => content.wrapToggled());
byId("numbers").addEventListener("change", () => content.numbersToggled());
view.addEventListener("scroll", () => content.scrolled(), { passive: true });
view.addEventListener("click", (ev) => {
  if (!cursor.click(ev)) content.clicked(ev);
});
byId("below").addEventListener("click", () => content.belowClicked());
addEventListener("hashchange", () => content.goToHash(location.hash));

filterBox.addEventListener("input", () => tools.apply());
byId("case").addEventListener("click", () => tools.toggleCase());
byId("pause").addEventListener("click", () => tools.togglePause());

byId("theme").addEventListener("click", () => theme.cycle());

document.addEventListener("keydown", (ev) => {
  const command = keyCommand(ev, filterBox);
  if (command === null) return;
  ev.preventDefault();
  if (command === "filter") tools.focusFilter();
  else if (command === "goto") goTo.show();
  else if (command === "time") big?.time.show();
  // The search input clears itself on Escape too; doing it here keeps one path.
  else if (!tools.clear() && ev.target === filterBox) content.focus();
});

// ---- reading real logs: the log bar, the keyboard's line, the URL, the title ----
const filteredPane = byId("filtered");
const logTools: LogTools = new LogTools(win ?? log, {
  bar: byId("logbar"),
  levels: new Map(LEVEL_KEYS.map((k) => {
    const button = byId("levels").querySelector<HTMLElement>(`[data-level="${k}"]`)!;
    return [k, { button, count: button.querySelector<HTMLElement>(".n")! }];
  })),
  marked: byId("marked-only"),
  markCount: byId("mark-count"),
  fields: byId("fields"),
}, {
  select() {
    if (small) small.reselect();
    // The server's search takes the levels shown (the large view's lines are hidden by class).
    else if (big?.search.on) big.search.run(tools.filter, filterBox.value, tools.state.matchCase);
    writeView();
  },
  redraw() {
    if (win) win.fields = log.fields;
    small?.redraw();
    big?.view.redraw();
  },
  fieldsChosen(on) {
    prefs.save("fields", on);
    writeView();
  },
});
const cursor = new LineCursor(view, {
  pane: () => filteredPane.hidden ? pre : filteredPane,
  digits() {
    if (!filteredPane.hidden) return Number(filteredPane.style.getPropertyValue("--digits") || 2);
    return body.classList.contains("numbers") ? Number(pre.style.getPropertyValue("--digits") || 2) : 0;
  },
  drawBlock: (el) => small?.drawBlock(el),
  structured: (el) => win ? win.structured(el) : log.structured(indexOf(el)) !== null,
  toggleMark(el) {
    if (win) win.toggleMark(el);
    else {
      log.toggleMark(indexOf(el));
      if (log.markedOnly) small!.reselect();
    }
    logTools.paint();
  },
  toggleFold: (el) => win ? win.toggleFold(el) : log.toggleFold(indexOf(el)) >= 0,
  toggleOpen: (el) => win ? win.toggleOpen(el) : void log.toggleOpen(indexOf(el)),
});
/** The held line a line element of the page that holds the whole text draws. */
function indexOf(el: HTMLElement): number {
  return Number(el.dataset.n) - 1 - (log.lines?.base ?? 0);
}
/** Goes to the first entry stamped at or after `t` (a URL's `?t=`): the page's own lines, or the server's /time. */
function goToTime(t: string): void {
  if (big) {
    big.time.show();
    (byId("time-input") as HTMLInputElement).value = t;
    void big.time.submit();
    return;
  }
  const ms = parseTime(t);
  const i = ms === null ? -1 : log.findTime(ms);
  if (i >= 0 && small!.linksOff() === null) small!.goToLine(log.numberOf(i), true);
  else if (i >= 0) small!.lineElement(i)?.scrollIntoView({ block: "center" });
}
const unseen = new Unseen(() => document.visibilityState === "hidden", (n) => status.setUnseen(n));
/** The time the URL named (`?t=`), kept until a line link names a place instead. */
let urlTime = fromUrl.time;
let saveTimer: number | undefined;
/** Writes the view's state into the URL once typing pauses (replacing the entry: a history of keystrokes helps no one). */
function saveView(): void {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(writeView, 250);
}
/** Writes the view's state into the URL now (a button was pressed). */
function writeView(): void {
  clearTimeout(saveTimer);
  const query = viewQuery({ ...tools.state, ...logTools.state, time: urlTime }, location.search, fieldsDefault);
  const url = location.pathname + query + location.hash;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(history.state, "", url);
}
let working = false;
/** Levels and the rest are read in slices after the text shows; a change may bring more to read. */
function logChanged(): void {
  logTools.paint();
  if (working) return;
  working = true;
  const slice = () => {
    working = !win && log.facts.work(8);
    logTools.paint();
    if (working) setTimeout(slice, 0);
  };
  setTimeout(slice, 0);
}
byId("levels").addEventListener("click", (ev) => {
  const key = (ev.target as Element).closest<HTMLElement>("[data-level]")?.dataset.level;
  if (key) logTools.toggleLevel(key as (typeof LEVEL_KEYS)[number]);
});
byId("marked-only").addEventListener("click", () => logTools.toggleMarked());
byId("fields").addEventListener("click", () => logTools.toggleFields());
byId("case").addEventListener("click", writeView);
byId("pause").addEventListener("click", writeView);
addEventListener("hashchange", () => {
  urlTime = undefined;
  saveView();
});
document.addEventListener("keydown", (ev) => {
  if (cursor.keydown(ev)) ev.preventDefault();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") unseen.seen();
});

// ---- start ----------------------------------------------------------------
byId("controls").hidden = false;
status.showModified();
if (big) startLarge(big.view);
else {
  small!.start(first, start);
  content.goToHash(location.hash);
}
// The view a link names (docs/page.md#reading-real-logs): a time, then levels, marks, the filter, pause.
if (urlTime !== undefined && !location.hash) goToTime(urlTime);
byId("logbar").hidden = false;
if (fromUrl.levels !== undefined) logTools.setLevels(fromUrl.levels);
if (fromUrl.markedOnly) logTools.setMarkedOnly(true);
if (fromUrl.filter !== undefined || fromUrl.matchCase) {
  tools.setFilter(fromUrl.filter ?? "", fromUrl.matchCase ?? false);
}
if (fromUrl.paused) tools.togglePause();
logChanged();
content.focus();
performance.mark("filewatch:ready"); // the script has taken over the page (bench/page.ts reads it)
setInterval(() => status.tick(live), 1000);
// Every file is followed, the large view's too (a file over --max-file-size is followed in tail mode).
live.connect();

/** Starts the large-file view at the end of the file (or the line a `#L…` link names). */
function startLarge(view: BigView): void {
  view.start(Number(body.dataset.size) || 0, body.dataset.lastMod ?? "", body.dataset.open === "1", location.hash);
}
