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
 * @module
 */
import { formatAgo, formatSize, lastModToMs, windowNotice } from "./format.ts";
import { Live, type LiveEnv } from "./live.ts";
import { isAtBottom } from "./scroll.ts";
import { type Change, type Held, trimHeld } from "./text.ts";
import { TextView } from "./view.ts";

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
const baseTitle = document.title;

const count = (v: string | undefined) => {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
};
const keep = count(body.dataset.keep);
const first: Held = {
  lastMod: body.dataset.lastMod ?? "",
  offset: count(body.dataset.offset),
  size: count(body.dataset.size),
  text: pre.textContent ?? "",
  lossy: !notice.hidden,
  dropped: false,
};
let modifiedMs = lastModToMs(first.lastMod);
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
const savePref = (key: string, on: boolean) => {
  try {
    prefs?.setItem("filewatch." + key, on ? "1" : "0");
  } catch {
    // quota or privacy mode: not worth bothering the user
  }
};

// ---- the text ------------------------------------------------------------
const text = new TextView(pre);
const atBottom = () => isAtBottom(view.scrollTop, view.clientHeight, view.scrollHeight);
const toBottom = () => {
  view.scrollTop = view.scrollHeight;
  // Chunks that come into view are laid out for real on the next frame and
  // may be taller than estimated (wrapped lines): stick to the end again.
  requestAnimationFrame(() => view.scrollTop = view.scrollHeight);
};

/** Says which part of the file is shown, and that the page dropped lines when it did. */
const paintHeld = (held: Held) => {
  body.dataset.lastMod = held.lastMod;
  body.dataset.offset = String(held.offset);
  body.dataset.size = String(held.size);
  sizeEl.textContent = formatSize(held.size);
  notice.hidden = !held.lossy;
  const shown = windowNotice(held.offset, held.size);
  windowText.textContent = shown;
  windowBox.hidden = shown === "";
  droppedNote.hidden = !held.dropped;
};

/** Shows a change, following the end only if the reader was there. */
const showChange = (change: Exclude<Change, { kind: "stale" }>) => {
  const follow = atBottom();
  const top = view.scrollTop;
  const height = view.scrollHeight;
  if (change.kind === "replace") {
    text.render(change.held.text, numbersBox.checked);
  } else {
    text.append(change.added);
    if (change.dropped) {
      // Lines leaving above the reader would pull the text they are reading
      // up: move the scroll position by the height that left.
      const before = view.scrollHeight;
      text.dropFront(change.dropped);
      if (!follow) view.scrollTop = top - (before - view.scrollHeight);
    }
  }
  paintHeld(change.held);
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
  bannerKeep.hidden = live.held.text === "";
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
  else label = `reconnecting in ${Math.max(1, Math.ceil(((live.retryAt ?? now) - now) / 1000))}s`;
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
  updated.title = `modified ${d.toLocaleString()}; received ${new Date(receivedMs).toLocaleString()}`;
};

// ---- connection ----------------------------------------------------------
const env: LiveEnv = {
  location,
  // The server says where this file's socket is (`/ws`, or `/ws/{name}` with several files).
  socketPath: document.querySelector<HTMLMetaElement>('meta[name="filewatch-socket"]')
    ?.content || "/ws",
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
const start = trimHeld(first, keep);
const live = new Live(
  env,
  {
    change(change) {
      receivedMs = Date.now();
      modifiedMs = lastModToMs(change.held.lastMod);
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
  keep,
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
  text.render(live.held.text, numbersBox.checked);
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

controls.hidden = false;
applyToggles();
text.render(start.text, numbersBox.checked); // the server's text, as this script's chunks
paintHeld(start);
paintUpdated();
// A page that shows the last part of a log (tail mode) opens at its end, following it.
if (start.offset > 0) toBottom();
view.focus({ preventScroll: true }); // so PageDown / End scroll the file at once
setInterval(() => {
  if (live.status === "waiting" || modifiedMs !== null) paintStatus();
}, 1000);
live.connect();
