/**
 * The page's script: wires the server-rendered page to a {@link Live}
 * connection and a {@link TextView}, and runs the status, follow mode and
 * toggles. scripts/build-client.mjs bundles this file and what it imports
 * into src/client_bundle.ts, the one script the page inlines.
 *
 * What the page starts from comes from the server's HTML: the text in
 * `<pre id="content">` and, on `<body>`, `data-last-mod`, `data-offset`,
 * `data-size` (which bytes of which version that text is) and `data-keep`
 * (the most characters to keep on screen; 0 = no bound).
 *
 * Reading (docs/page.md#reading): the filter, pause, line links and the marking of
 * changed lines work on what is *shown* (`shown`), which lags what the
 * connection holds (`live.held`) while paused.
 * @module
 */
import {
  appendedLines,
  changedLines,
  type LineRange,
  mergeRanges,
  shiftRanges,
} from "./changes.ts";
import {
  countLabel,
  type Filter,
  matchingLines,
  parseFilter,
} from "./filter.ts";
import { FilteredView } from "./filtered.ts";
import {
  formatAgo,
  formatSize,
  tokenTimeMs,
  windowNotice,
} from "../shared/format.ts";
import {
  lineHash,
  noLinksReason,
  parseLineHash,
  parseLineInput,
} from "./links.ts";
import { Lines } from "./lines.ts";
import { Live, type LiveEnv } from "./live.ts";
import { PauseQueue, type Shown, waitingLabel } from "./pause.ts";
import { isAtBottom } from "./scroll.ts";
import { type FileText, trimHeld } from "./text.ts";
import { TextView } from "./view.ts";

// The HTML before this script is parsed: what follows is this script's own start-up (bench/page.ts reads it).
performance.mark("filewatch:start");

/** How long changed or new lines stay marked. */
export const CHANGED_MS = 4_000;

const byId = (id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Cannot start the page: no element #${id}`);
  return el;
};
const body = document.body;
const view = byId("view");
const pre = byId("content");
const status = byId("status");
const statusText = byId("status-text");
const banner = byId("banner");
const bannerText = byId("banner-text");
const bannerKeep = byId("banner-keep");
const notice = byId("notice");
const windowBox = byId("window");
const windowText = byId("window-text");
const droppedNote = byId("dropped");
const sizeEl = byId("size");
const updatedWrap = byId("updated-wrap");
const updated = byId("updated") as HTMLTimeElement;
const updatedAgo = byId("updated-ago");
const below = byId("below");
const controls = byId("controls");
const wrapBox = byId("wrap") as HTMLInputElement;
const numbersBox = byId("numbers") as HTMLInputElement;
const filteredPre = byId("filtered");
const filterBox = byId("filter") as HTMLInputElement;
const caseButton = byId("case");
const filterCount = byId("filter-count");
const pauseButton = byId("pause");
const waitingEl = byId("waiting");
const themeButton = byId("theme");
const gotoButton = byId("goto-open");
const gotoForm = byId("goto") as HTMLFormElement;
const gotoInput = byId("goto-line") as HTMLInputElement;
const gotoMsg = byId("goto-msg");
const baseTitle = document.title;

const count = (v: string | undefined) => {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
};
/** The most characters to keep on screen (`data-keep`; 0: no bound). */
const keepChars = count(body.dataset.keep);
const first: FileText = {
  lastMod: body.dataset.lastMod ?? "",
  offset: count(body.dataset.offset),
  size: count(body.dataset.size),
  // The text nodes' data joined, not pre.textContent: on 16 MiB, a third of the time (Chromium 156).
  text: Array.from(pre.childNodes, (n) => n.textContent ?? "").join(""),
  lossy: !notice.hidden,
  dropped: false,
};
let modifiedMs = tokenTimeMs(first.lastMod);
let receivedMs = Date.now();

// ---- preferences ---------------------------------------------------------
let prefs: Storage | null = null;
try {
  prefs = localStorage;
} catch {
  // Storage disabled (the getter throws): toggles still work, just not remembered.
}
const loadPref = (key: string) => {
  try {
    return prefs?.getItem("filewatch." + key) === "1";
  } catch {
    return false;
  }
};
const savePref = (key: string, on: boolean | string) => {
  try {
    prefs?.setItem(
      "filewatch." + key,
      typeof on === "string" ? on : on ? "1" : "0",
    );
  } catch {
    // quota or privacy mode: not worth bothering the user
  }
};

// ---- the text ------------------------------------------------------------
const text = new TextView(pre);
const atBottom = () =>
  isAtBottom(view.scrollTop, view.clientHeight, view.scrollHeight);
const toBottom = () => {
  view.scrollTop = view.scrollHeight;
  // Chunks that come into view are laid out for real on the next frame and
  // may be taller than estimated (wrapped lines): stick to the end again.
  requestAnimationFrame(() => view.scrollTop = view.scrollHeight);
};

/** Says which part of the file is shown, and that the page dropped lines when it did. */
const paintHeld = (held: FileText) => {
  body.dataset.lastMod = held.lastMod;
  body.dataset.offset = String(held.offset);
  body.dataset.size = String(held.size);
  sizeEl.textContent = formatSize(held.size);
  notice.hidden = !held.lossy;
  const shown = windowNotice(held.offset, held.size);
  windowText.textContent = shown;
  windowBox.hidden = shown === "";
  droppedNote.hidden = !held.dropped;
  body.classList.toggle(
    "linkable",
    noLinksReason(held.offset, held.dropped) === null,
  );
};

// ---- reading: what is shown, filter, changed lines, line links ----------
let shown: FileText = first; // set to the trimmed start below
let lines = new Lines("");
const filtered = new FilteredView(filteredPre, view);
let filter: Filter = { kind: "none" };
const queue = new PauseQueue();
/** The line a `#L…` link names, while it is marked. */
let target: number | null = null;

/** Line links name lines of the file: only a page that holds it from its first byte can number them so. */
const linkable = () => noLinksReason(shown.offset, shown.dropped) === null;

/** The lines marked as changed (on screen, 0-based; sorted, disjoint) until the mark times out. */
let changed: LineRange[] = [];
let changedTimer: number | undefined;
/**
 * Marks {@link changed} in the pane shown: in the text, or, with a filter
 * on, on the matching lines among them (the filtered view builds its lines
 * as they near the screen, and calls this again for each block it builds).
 */
const paintChanged = () => {
  // The CSS Custom Highlight API marks text without touching a node; where
  // the browser lacks it, lines are simply not marked.
  if (typeof Highlight === "undefined" || !("highlights" in CSS)) return;
  const made = changed.length === 0
    ? []
    : filter.kind === "ok"
    ? filtered.lineRanges(changed)
    : changed.map(([a, b]) => text.lineRange(a, b)).filter((r): r is Range =>
      r !== null
    );
  if (made.length === 0) {
    CSS.highlights.delete("fw-changed");
    delete body.dataset.changed;
    return;
  }
  const hl = new Highlight();
  for (const r of made) hl.add(r);
  CSS.highlights.set("fw-changed", hl);
  body.dataset.changed = String(made.length);
};
filtered.onBuild = () => {
  if (changed.length > 0) paintChanged();
};
/** Marks `ranges` (lines on screen) as changed for {@link CHANGED_MS}; `add` keeps the marks already up. */
const markChanged = (ranges: LineRange[], add: boolean) => {
  changed = mergeRanges(add ? changed : [], ranges);
  paintChanged();
  if (ranges.length === 0 && changed.length > 0) return; // the marks up keep their time
  clearTimeout(changedTimer);
  if (changed.length === 0) return;
  changedTimer = setTimeout(() => {
    changed = [];
    paintChanged();
  }, CHANGED_MS);
};

/** Applies the filter box to the lines shown (all of them). */
const runFilter = () => {
  if (filter.kind !== "ok") {
    filtered.clear();
    filteredPre.hidden = true;
    pre.hidden = false;
    paintChanged();
    return;
  }
  const hits = matchingLines(lines.lines, filter.re);
  filtered.show(lines.lines, lines.base, hits, filter.re);
  filtered.setTarget(target);
  pre.hidden = true;
  filteredPre.hidden = false;
  paintCount();
  paintChanged();
};

const paintCount = () => {
  filterCount.classList.toggle("bad", filter.kind === "error");
  filterBox.setAttribute("aria-invalid", String(filter.kind === "error"));
  filterCount.textContent = filter.kind === "error"
    ? `Invalid regular expression: ${
      filter.message.replace(/^Invalid regular expression: /, "")
    }`
    : filter.kind === "ok"
    ? countLabel(filtered.hits.length, lines.length)
    : "";
};

/** Marks the linked line where it is shown. */
const paintTarget = () => {
  for (const el of pre.querySelectorAll(".target")) {
    el.classList.remove("target");
  }
  if (target !== null) {
    text.lineElement(target - 1 - text.base)?.classList.add("target");
  }
  filtered.setTarget(target);
};

/** Shows a change, following the end only if the reader was there; `mark` marks what changed. */
const showChange = (change: Shown, mark = true) => {
  const follow = atBottom();
  const top = view.scrollTop;
  const height = view.scrollHeight;
  let ranges: LineRange[] = [];
  if (change.kind === "replace") {
    const before = lines.lines;
    changed = []; // lines of the text replaced
    text.render(change.held.text, numbersBox.checked);
    lines = new Lines(change.held.text);
    if (mark && before.length > 0) {
      ranges = changedLines(before, lines.lines).ranges;
    }
    if (filter.kind === "ok") runFilter();
  } else {
    const firstNew = lines.extend(change.added);
    const more = filter.kind === "ok"
      ? matchingLines(lines.lines, filter.re, firstNew)
      : [];
    text.append(change.added);
    if (change.dropped) {
      // Lines leaving above the reader would pull the text they are reading
      // up: move the scroll position by the height that left.
      const droppedBefore = lines.base;
      lines.dropFront(change.dropped);
      const gone = lines.base - droppedBefore;
      changed = shiftRanges(changed, gone);
      const before = view.scrollHeight;
      text.dropFront(change.dropped);
      if (filter.kind === "ok") runFilter();
      if (!follow) view.scrollTop = top - (before - view.scrollHeight);
      ranges = appendedLines(Math.max(0, firstNew - gone), lines.length);
    } else {
      if (filter.kind === "ok") filtered.extend(lines.lines, firstNew, more);
      ranges = appendedLines(firstNew, lines.length);
    }
    if (!mark) ranges = [];
  }
  shown = change.held;
  paintHeld(change.held);
  if (filter.kind === "ok") paintCount();
  if (change.kind === "replace") paintTarget();
  markChanged(ranges, change.kind === "extend");
  if (follow) {
    toBottom();
    below.hidden = true;
  } else {
    if (change.kind === "replace") view.scrollTop = top;
    // Dropped lines can leave the height as it was: new text is below all the same.
    if (
      view.scrollHeight > height ||
      (change.kind === "extend" && change.added !== "")
    ) below.hidden = false;
  }
};

const showError = (message: string | null) => {
  banner.hidden = message === null;
  bannerText.textContent = message ?? "";
  bannerKeep.hidden = shown.text === "";
  body.classList.toggle("stale", message !== null);
};

// ---- status --------------------------------------------------------------
const paintStatus = () => {
  const now = Date.now();
  const state = live.status;
  let label: string;
  if (state === "connected") label = "connected";
  else if (state === "connecting") {
    label = live.everConnected ? "reconnecting…" : "connecting…";
  } else if (state === "offline") label = "offline";
  else {label = `reconnecting in ${
      Math.max(1, Math.ceil(((live.retryAt ?? now) - now) / 1000))
    }s`;}
  status.dataset.state = state;
  status.dataset.retryAt = live.retryAt === null ? "" : String(live.retryAt);
  status.title = live.closed;
  if (statusText.textContent !== label) statusText.textContent = label;
  const flag = state === "connected"
    ? (banner.hidden ? "" : "(error) ")
    : state === "offline"
    ? "(offline) "
    : live.everConnected
    ? "(reconnecting) "
    : "(connecting) ";
  document.title = flag + baseTitle;
  if (modifiedMs !== null) {
    const ago = formatAgo(modifiedMs, now);
    if (updatedAgo.textContent !== ago) updatedAgo.textContent = ago;
  }
};

const paintUpdated = () => {
  if (modifiedMs === null) return;
  const d = new Date(modifiedMs);
  updatedWrap.hidden = false;
  const today = d.toDateString() === new Date().toDateString();
  updated.dateTime = d.toISOString();
  updated.textContent = today ? d.toLocaleTimeString() : d.toLocaleString();
  updated.title = `modified ${d.toLocaleString()}; received ${
    new Date(receivedMs).toLocaleString()
  }`;
};

// ---- connection ----------------------------------------------------------
const env: LiveEnv = {
  location,
  socketPath: body.dataset.socket || "/ws",
  open(url, protocol, on) {
    const ws = new WebSocket(url, protocol);
    ws.onopen = () => on.open();
    ws.onmessage = (ev) => on.message(ev.data);
    ws.onclose = (ev) => on.close(ev.code, ev.reason);
    return ws;
  },
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (id) => clearTimeout(id),
  now: () => Date.now(),
  random: () => Math.random(),
  onLine: () => navigator.onLine,
};

// Held lines beyond the bound (a page rendered before the server knew it)
// leave before anything is shown.
const start = trimHeld(first, keepChars);
const live = new Live(
  env,
  {
    change(change) {
      receivedMs = Date.now();
      modifiedMs = tokenTimeMs(change.held.lastMod);
      if (queue.push(change)) {
        waitingEl.textContent = waitingLabel(queue.waiting);
        return;
      }
      showChange(change);
      paintUpdated();
    },
    error(message) {
      receivedMs = Date.now();
      showError(message);
    },
    status: paintStatus,
  },
  start,
  keepChars,
  banner.hidden ? null : bannerText.textContent,
);

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

// ---- controls ------------------------------------------------------------
const applyToggles = () => {
  body.classList.toggle("wrap", wrapBox.checked);
  body.classList.toggle("numbers", numbersBox.checked);
};
wrapBox.checked = loadPref("wrap");
numbersBox.checked = loadPref("numbers");
wrapBox.addEventListener("change", () => {
  savePref("wrap", wrapBox.checked);
  const follow = atBottom();
  applyToggles();
  if (follow) toBottom();
});
numbersBox.addEventListener("change", () => {
  savePref("numbers", numbersBox.checked);
  const follow = atBottom();
  applyToggles();
  text.render(shown.text, numbersBox.checked);
  paintTarget();
  paintChanged(); // the marks were on the nodes just replaced
  if (follow) toBottom();
});
view.addEventListener("scroll", () => {
  if (atBottom()) below.hidden = true;
}, { passive: true });
below.addEventListener("click", () => {
  toBottom();
  below.hidden = true;
  view.focus({ preventScroll: true });
});

// ---- filter --------------------------------------------------------------
const setFilter = () => {
  const follow = atBottom();
  const was = filter.kind;
  filter = parseFilter(
    filterBox.value,
    caseButton.getAttribute("aria-pressed") === "true",
  );
  // A bad regular expression leaves every line shown and says why.
  runFilter();
  paintCount();
  if (follow) toBottom();
  else if (filter.kind === "ok" || was === "ok") view.scrollTop = 0;
};
filterBox.addEventListener("input", setFilter);
caseButton.addEventListener("click", () => {
  caseButton.setAttribute(
    "aria-pressed",
    String(caseButton.getAttribute("aria-pressed") !== "true"),
  );
  setFilter();
});
const clearFilter = () => {
  if (filterBox.value === "") return false;
  filterBox.value = "";
  setFilter();
  return true;
};
/** Where a keystroke is typing text (then `/` is a character, not a command). */
const typing = (el: EventTarget | null) =>
  el instanceof HTMLTextAreaElement ||
  (el instanceof HTMLElement && el.isContentEditable) ||
  (el instanceof HTMLInputElement &&
    !["checkbox", "radio", "button", "submit"].includes(el.type));
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  if (ev.key === "/" && !typing(ev.target)) {
    ev.preventDefault();
    filterBox.focus();
    filterBox.select();
  } else if (ev.key === "g" && !typing(ev.target)) {
    ev.preventDefault();
    openGoto();
  } else if (
    ev.key === "Escape" && (ev.target === filterBox || !typing(ev.target))
  ) {
    // The search input clears itself on Escape too; doing it here keeps one path.
    ev.preventDefault();
    if (!clearFilter() && ev.target === filterBox) {
      view.focus({ preventScroll: true });
    }
  }
});

// ---- pause ---------------------------------------------------------------
pauseButton.addEventListener("click", () => {
  if (!queue.paused) {
    queue.pause();
    pauseButton.setAttribute("aria-pressed", "true");
    pauseButton.textContent = "Resume";
    body.classList.add("paused");
    return;
  }
  const newest = queue.resume();
  pauseButton.setAttribute("aria-pressed", "false");
  pauseButton.textContent = "Pause";
  waitingEl.textContent = "";
  body.classList.remove("paused");
  if (newest) {
    showChange(newest);
    paintUpdated();
  }
  // Resume shows the newest: the end, following again.
  toBottom();
  below.hidden = true;
});

// ---- line links ----------------------------------------------------------
/** Scrolls line `n` into view, laying out its chunk first (chunks off screen are not laid out). */
const scrollToLine = (n: number) => {
  const index = n - 1 - text.base;
  text.chunkOf(index)?.scrollIntoView({ block: "start" });
  requestAnimationFrame(() =>
    text.lineElement(index)?.scrollIntoView({ block: "center" })
  );
};
/** Shows and marks line `n` (a `#L…` link): in the whole file, numbered. */
const goToLine = (n: number, scroll: boolean) => {
  if (!linkable()) return;
  target = n;
  if (filter.kind === "ok") clearFilter(); // the line in its context
  if (!numbersBox.checked) {
    // Numbered for this visit (not saved): a link names a line by its number.
    numbersBox.checked = true;
    applyToggles();
    text.render(shown.text, true);
    paintChanged();
  }
  paintTarget();
  if (scroll) scrollToLine(n);
};
view.addEventListener("click", (ev) => {
  const line = (ev.target as Element).closest?.("[data-n]");
  if (!(line instanceof HTMLElement) || !linkable()) return;
  // The number is the line's left padding, drawn by ::before.
  const gutter = parseFloat(getComputedStyle(line).paddingLeft);
  if (ev.clientX - line.getBoundingClientRect().left > gutter) return;
  const n = Number(line.dataset.n);
  const fromFilter = filter.kind === "ok";
  history.pushState(null, "", lineHash(n));
  goToLine(n, fromFilter);
});
addEventListener("hashchange", () => {
  const n = parseLineHash(location.hash);
  if (n !== null) goToLine(n, true);
});

// "Go to line" (`g`): the keyboard's way to a line link. One box, not a tab
// stop per line number (a 200k-line file would have 200k of them).
let gotoReturn: HTMLElement | null = null;
let gotoMsgTimer: number | undefined;
/** Says `message` beside the box; with `forMs`, takes it away after that long. */
const sayGoto = (message: string, bad: boolean, forMs?: number) => {
  clearTimeout(gotoMsgTimer);
  gotoMsg.textContent = message;
  gotoMsg.classList.toggle("bad", bad);
  gotoInput.setAttribute("aria-invalid", String(bad));
  if (forMs !== undefined) {
    gotoMsgTimer = setTimeout(() => (gotoMsg.textContent = ""), forMs);
  }
};
const closeGoto = (focus: HTMLElement | null) => {
  gotoForm.hidden = true;
  gotoButton.setAttribute("aria-expanded", "false");
  gotoInput.value = "";
  focus?.focus({ preventScroll: true });
};
const openGoto = () => {
  const why = noLinksReason(shown.offset, shown.dropped);
  if (why !== null) {
    // No box to type in: the reason instead, until it is read.
    sayGoto(why, false, 3 * CHANGED_MS);
    return;
  }
  if (gotoForm.hidden) {
    gotoReturn = document.activeElement instanceof HTMLElement &&
        document.activeElement !== document.body
      ? document.activeElement
      : view;
    sayGoto("", false);
  }
  gotoForm.hidden = false;
  gotoButton.setAttribute("aria-expanded", "true");
  gotoInput.focus();
  gotoInput.select();
};
gotoButton.addEventListener(
  "click",
  () => gotoForm.hidden ? openGoto() : closeGoto(gotoButton),
);
gotoForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const why = noLinksReason(shown.offset, shown.dropped); // the page may have dropped lines meanwhile
  const got = why === null
    ? parseLineInput(gotoInput.value, lines.length)
    : { ok: false as const, message: why };
  if (!got.ok) return sayGoto(got.message, true);
  history.pushState(null, "", lineHash(got.line));
  closeGoto(view);
  goToLine(got.line, true);
  sayGoto(`Showing line ${got.line.toLocaleString("en")}`, false, CHANGED_MS);
});
gotoInput.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  ev.preventDefault();
  ev.stopPropagation();
  sayGoto("", false);
  closeGoto(gotoReturn ?? view);
});

// ---- theme ---------------------------------------------------------------
const THEMES = ["auto", "light", "dark"] as const;
const applyTheme = (theme: string) => {
  if (theme === "light" || theme === "dark") {
    document.documentElement.dataset.theme = theme;
  } else delete document.documentElement.dataset.theme;
  themeButton.textContent = `Theme: ${
    theme === "light" || theme === "dark" ? theme : "auto"
  }`;
};
let theme = "auto";
try {
  theme = prefs?.getItem("filewatch.theme") ?? "auto";
} catch { /* storage refused: auto */ }
applyTheme(theme);
themeButton.addEventListener("click", () => {
  theme = THEMES[
    (THEMES.indexOf(theme as typeof THEMES[number]) + 1) % THEMES.length
  ]!;
  applyTheme(theme);
  savePref("theme", theme);
});

controls.hidden = false;
applyToggles();
shown = start;
lines = new Lines(start.text);
// The server's chunks are what render() would build: taken over as they are
// (no node rebuilt) unless lines are to be numbered or some were trimmed.
if (numbersBox.checked || start !== first || !text.adopt(start.text)) {
  text.render(start.text, numbersBox.checked);
}
paintHeld(start);
paintUpdated();
body.classList.toggle("linkable", linkable());
// A page that shows the last part of a log (tail mode) opens at its end, following it.
if (start.offset > 0) toBottom();
const linked = parseLineHash(location.hash);
if (linked !== null) goToLine(linked, true);
view.focus({ preventScroll: true }); // so PageDown / End scroll the file at once
performance.mark("filewatch:ready"); // the script has taken over the page (bench/page.ts reads it)
setInterval(() => {
  if (live.status === "waiting" || modifiedMs !== null) paintStatus();
}, 1000);
live.connect();
