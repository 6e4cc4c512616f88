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
 * - {@link keyCommand} (keys.ts): `/`, `g` and Esc;
 * - reading real logs: {@link LogView} (logview.ts) draws and chooses the
 *   lines (levels, colours, entries, links, marks, JSON lines), {@link
 *   LogTools} (logtools.ts) is the bar of level toggles, Marked and Fields,
 *   {@link LineCursor} (cursor.ts) the keyboard's line (`j`, `k`, `m`,
 *   Enter) and clicks on a line's gutter; the view's state goes into the URL
 *   (viewstate.ts) and a hidden tab counts new lines in its title (unseen.ts).
 *
 * What the page starts from comes from the server's HTML: the text in
 * `<pre id="content">` and, on `<body>`, `data-last-mod`, `data-offset`,
 * `data-size` (which bytes of which version that text is) and `data-keep`
 * (the most characters to keep on screen; 0 = no bound). docs/page.md says
 * what a reader sees.
 * @module
 */
import { browserEnv } from "./browser.ts";
import { ContentView } from "./content.ts";
import { GoTo } from "./goto.ts";
import { keyCommand } from "./keys.ts";
import { lineHash } from "./links.ts";
import { Live } from "./live.ts";
import { Prefs } from "./prefs.ts";
import { StatusBar } from "./status.ts";
import { pageStart, trimHeld } from "./text.ts";
import { ThemeButton } from "./theme.ts";
import { ReadingTools } from "./tools.ts";
import { LineCursor } from "./cursor.ts";
import { LEVEL_KEYS } from "./loglines.ts";
import { LogTools } from "./logtools.ts";
import { LogView } from "./logview.ts";
import { Marks } from "./marks.ts";
import { Unseen } from "./unseen.ts";
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
  Array.from(pre.childNodes, (n) => (n as HTMLElement).dataset?.raw ?? n.textContent ?? "").join(""),
  status.lossy,
);
const prefs = Prefs.open(() => localStorage);

// ---- reading real logs: the reader the pane draws with (docs/page.md#reading-real-logs) ----
const log = new LogView(Marks.open(() => localStorage, location.pathname), {
  redrawLine: (i) => content.redrawLine(i),
  redraw: () => content.redraw(),
});
const fieldsDefault = prefs.text("fields") !== "0";
const fromUrl = parseViewQuery(location.search);
log.fields = fromUrl.fields ?? fieldsDefault;

const tools: ReadingTools = new ReadingTools({
  box: filterBox,
  caseButton: byId("case"),
  count: byId("filter-count"),
  pause: byId("pause"),
  waiting: byId("waiting"),
  body,
}, {
  filter(filter) {
    content.setFilter(filter);
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

const content: ContentView = new ContentView({
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

const goTo = new GoTo({
  button: byId("goto-open"),
  form: byId("goto"),
  input: byId("goto-line") as HTMLInputElement,
  msg: byId("goto-msg"),
  home: view,
  focused: () => {
    const el = document.activeElement;
    return el instanceof HTMLElement && el !== body ? el : null;
  },
}, {
  linksOff: () => content.linksOff(),
  lines: () => content.lineCount,
  go(n) {
    linkTo(n);
    content.goToLine(n, true);
  },
}, { setTimer: (fn, ms) => setTimeout(fn, ms), clearTimer: (id) => clearTimeout(id) });

const theme = new ThemeButton({ button: byId("theme"), root: document.documentElement }, prefs);

// Held lines beyond the bound (a page rendered before the server knew it)
// leave before anything is shown.
const start = trimHeld(first, keepChars);
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
      status.showError(message, content.shown.text !== "");
    },
    status: () => status.showConnection(live),
  },
  start,
  keepChars,
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

byId("goto-open").addEventListener("click", () => goTo.toggle());
byId("goto").addEventListener("submit", (ev) => {
  ev.preventDefault();
  goTo.submit();
});
byId("goto-line").addEventListener("keydown", (ev) => goTo.keydown(ev));

byId("theme").addEventListener("click", () => theme.cycle());

document.addEventListener("keydown", (ev) => {
  const command = keyCommand(ev, filterBox);
  if (command === null) return;
  ev.preventDefault();
  if (command === "filter") tools.focusFilter();
  else if (command === "goto") goTo.show();
  // The search input clears itself on Escape too; doing it here keeps one path.
  else if (!tools.clear() && ev.target === filterBox) content.focus();
});

// ---- reading real logs: the log bar, the keyboard's line, the URL, the title ----
const filteredPane = byId("filtered");
const logTools = new LogTools(log, {
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
    content.reselect();
    writeView();
  },
  redraw: () => content.redraw(),
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
  drawBlock: (el) => content.drawBlock(el),
  indexOf: (n) => n - 1 - (log.lines?.base ?? 0),
  structured: (i) => log.structured(i) !== null,
  toggleMark(i) {
    log.toggleMark(i);
    if (log.markedOnly) content.reselect();
    logTools.paint();
  },
  toggleFold: (i) => log.toggleFold(i),
  toggleOpen: (i) => void log.toggleOpen(i),
});
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
    working = log.facts.work(8);
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
content.start(first, start);
content.goToHash(location.hash);
// The view a link names (docs/page.md#reading-real-logs): a time, then levels, marks, the filter, pause.
if (urlTime !== undefined && !location.hash) {
  const ms = parseTime(urlTime);
  const i = ms === null ? -1 : log.findTime(ms);
  if (i >= 0 && content.linksOff() === null) {
    content.goToLine(log.numberOf(i), true);
  } else if (i >= 0) {
    content.lineElement(i)?.scrollIntoView({ block: "center" });
  }
}
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
live.connect();
