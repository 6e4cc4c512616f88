/**
 * The page's client script, written as TypeScript functions and shipped as
 * their source text.
 *
 * Why functions and not a string or a bundler: the code is type-checked and
 * linted with the rest of the project, the pure helpers are unit-tested
 * directly, and both Deno and Bun hand back a function's transpiled source
 * through `Function.prototype.toString` with no build step. The price is one
 * rule: every function listed in {@link clientScript} may use only its own
 * parameters, browser globals and the other listed functions — nothing else
 * from this module's scope.
 *
 * @module
 */

/** The WebSocket subprotocol the page speaks (DESIGN §3). */
export const SUBPROTOCOL = "filewatch.v1";

// The slice of the DOM the page uses, typed here because the DOM library
// cannot be added to one file: `/// <reference lib="dom" />` changes global
// types for the whole program, which breaks Deno-typed code elsewhere.
interface PageElement {
  hidden: boolean;
  textContent: string | null;
  title: string;
  className: string;
  checked: boolean;
  dateTime: string;
  scrollTop: number;
  readonly clientHeight: number;
  readonly scrollHeight: number;
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { toggle(token: string, force?: boolean): boolean };
  readonly style: { setProperty(name: string, value: string): void };
  addEventListener(type: string, listener: () => void, options?: { passive?: boolean }): void;
  append(...nodes: (PageElement | PageFragment)[]): void;
  replaceChildren(...nodes: (PageElement | PageFragment)[]): void;
  remove(): void;
  focus(options?: { preventScroll?: boolean }): void;
}
interface PageFragment {
  append(...nodes: PageElement[]): void;
}
interface PageDocument {
  readonly body: PageElement;
  title: string;
  readonly visibilityState: string;
  getElementById(id: string): PageElement | null;
  createElement(tag: string): PageElement;
  createDocumentFragment(): PageFragment;
  addEventListener(type: string, listener: () => void): void;
}
interface PageGlobals {
  document: PageDocument;
  navigator: { onLine: boolean };
  location: { protocol: string; host: string };
  localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
  requestAnimationFrame(callback: () => void): number;
  addEventListener(type: string, listener: (ev: { persisted?: boolean }) => void): void;
}

/**
 * Delay before reconnection attempt `attempt` (0 = the first retry), in ms.
 *
 * Exponential from `baseMs`, capped at `capMs`, with "equal jitter": half the
 * delay is fixed, half is random, so every page that lost the same server does
 * not knock on its door in the same millisecond when it comes back, yet no
 * page retries in a tight loop.
 *
 * @param random a number in [0, 1), normally `Math.random()`
 * @example
 * ```ts
 * backoffDelay(0, 0);     // 250
 * backoffDelay(3, 0.999); // ≈ 4000
 * backoffDelay(50, 0.5);  // 22500 (capped at 30 s)
 * ```
 */
export function backoffDelay(
  attempt: number,
  random: number,
  baseMs = 500,
  capMs = 30_000,
): number {
  const n = Math.max(0, Math.min(attempt, 30)); // 2 ** 30 is already far past any cap
  const ceiling = Math.min(capMs, baseMs * 2 ** n);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}

/**
 * A byte count for people: `"0 B"`, `"812 B"`, `"1.5 KiB"`, `"16 MiB"`.
 * @example
 * ```ts
 * formatSize(1536); // "1.5 KiB"
 * ```
 */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  // Move up a unit before rounding could print "1024 KiB".
  while (value >= 1023.95 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value < 10 ? value.toFixed(1).replace(/\.0$/, "") : String(Math.round(value));
  return `${shown} ${units[unit]}`;
}

/**
 * The time a `lastMod` (hex nanoseconds since the epoch) stands for, in ms
 * since the epoch; null when it is not such a number.
 */
export function lastModToMs(lastMod: string): number | null {
  if (!/^[0-9a-f]{1,20}$/i.test(lastMod)) return null;
  const ms = Number(BigInt("0x" + lastMod) / 1_000_000n);
  return Number.isSafeInteger(ms) ? ms : null;
}

/**
 * How long ago `thenMs` was, at `nowMs`, in words: `"just now"`, `"42 s ago"`,
 * `"5 min ago"`, `"3 h ago"`, `"2 d ago"`. A time in the future (clock skew
 * between the file's filesystem and this browser) reads as `"just now"`.
 */
export function formatAgo(thenMs: number, nowMs: number): string {
  const s = Math.floor((nowMs - thenMs) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/**
 * The WebSocket URL for a page at `location`: same host, `wss:` when the page
 * is `https:`, resuming from `lastMod` when there is one.
 * @example
 * ```ts
 * socketUrl({ protocol: "https:", host: "example.com" }, "17f0"); // "wss://example.com/ws?lastMod=17f0"
 * ```
 */
export function socketUrl(location: { protocol: string; host: string }, lastMod: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = lastMod ? `?lastMod=${encodeURIComponent(lastMod)}` : "";
  return `${scheme}//${location.host}/ws${query}`;
}

/** A `filewatch.v1` message, checked and decoded. */
export type ClientMessage =
  | { type: "content"; lastMod: string; size: number; text: string; lossy: boolean }
  | { type: "error"; message: string };

/**
 * Parses one `filewatch.v1` frame. Content sent as base64 (the file is not
 * valid UTF-8) is decoded lossily: invalid bytes become U+FFFD and `lossy` is
 * true. Returns null for anything that is not a well-formed message.
 */
export function parseMessage(frame: unknown): ClientMessage | null {
  if (typeof frame !== "string") return null;
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof m !== "object" || m === null) return null;
  const o = m as Record<string, unknown>;
  if (o.type === "error") {
    return { type: "error", message: typeof o.message === "string" ? o.message : "unknown error" };
  }
  if (o.type !== "content" || typeof o.data !== "string") return null;
  let text = o.data;
  let bytes: number | undefined;
  const lossy = o.encoding === "base64";
  if (lossy) {
    let binary: string;
    try {
      binary = atob(o.data);
    } catch {
      return null;
    }
    const raw = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8").decode(raw);
    bytes = raw.length;
  }
  return {
    type: "content",
    lastMod: typeof o.lastMod === "string" ? o.lastMod : "",
    size: typeof o.size === "number" ? o.size : bytes ?? new TextEncoder().encode(text).length,
    text,
    lossy,
  };
}

/**
 * Whether a scroller showing `scrollTop`..`scrollTop + clientHeight` of
 * `scrollHeight` is at the bottom (within `slackPx`, for fractional pixels
 * and zoom).
 */
export function isAtBottom(
  scrollTop: number,
  clientHeight: number,
  scrollHeight: number,
  slackPx = 8,
): boolean {
  return scrollTop + clientHeight >= scrollHeight - slackPx;
}

/** A handshake that has not completed in this long is abandoned and retried. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A connection that stayed open this long resets the backoff to its start. */
export const STABLE_AFTER_MS = 5_000;

/** Lines per `<span class="chunk">` of the content (see {@link chunkStarts}). */
export const CHUNK_LINES = 500;

/**
 * Where each chunk of `text` starts: every `linesPerChunk` lines, so every
 * chunk but the last ends with a newline. The page renders each chunk as its
 * own block with `content-visibility: auto`, so the browser lays out only the
 * chunks on screen: a 16 MiB file in one text node costs seconds of layout,
 * in chunks a few tens of ms. Returns `[0]` for a text of one chunk or less.
 * @example
 * ```ts
 * chunkStarts("a\nb\nc\n", 2); // [0, 4]
 * ```
 */
export function chunkStarts(text: string, linesPerChunk: number): number[] {
  const starts = [0];
  let lines = 0;
  let i = -1;
  while ((i = text.indexOf("\n", i + 1)) !== -1 && i + 1 < text.length) {
    if (++lines === linesPerChunk) {
      starts.push(i + 1);
      lines = 0;
    }
  }
  return starts;
}

/**
 * How many decimal digits the largest line number of `text` has. A final
 * newline ends the last line; it does not start another.
 */
export function lineNumberDigits(text: string): number {
  let lines = text.endsWith("\n") ? 0 : 1;
  let i = -1;
  while ((i = text.indexOf("\n", i + 1)) !== -1) lines++;
  return String(Math.max(1, lines)).length;
}

/**
 * The page's behaviour: connection with backoff, status, follow mode, toggles.
 * Runs in the browser only; see the module doc for what it may reference.
 */
export function clientMain(): void {
  const win = globalThis as unknown as PageGlobals;
  const { document, navigator, location } = win;
  const byId = (id: string) => document.getElementById(id)!;
  const body = document.body;
  const view = byId("view");
  const pre = byId("content");
  const status = byId("status");
  const statusText = byId("status-text");
  const banner = byId("banner");
  const bannerText = byId("banner-text");
  const bannerKeep = byId("banner-keep");
  const notice = byId("notice");
  const sizeEl = byId("size");
  const updatedWrap = byId("updated-wrap");
  const updated = byId("updated");
  const updatedAgo = byId("updated-ago");
  const below = byId("below");
  const controls = byId("controls");
  const wrapBox = byId("wrap");
  const numbersBox = byId("numbers");
  const baseTitle = document.title;

  /** The text on screen; the DOM may hold it as one text node or as lines. */
  let text = pre.textContent ?? "";
  /** Version of `text`; sent on reconnect so an unchanged file is not re-sent. */
  let lastMod = body.dataset.lastMod ?? "";
  let modifiedMs = lastModToMs(lastMod);
  let receivedMs = Date.now();

  let ws: WebSocket | null = null;
  let attempt = 0;
  let openedAt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryAt = 0;
  let everConnected = false;

  // ---- preferences -------------------------------------------------------
  let prefs: PageGlobals["localStorage"] | null = null;
  try {
    prefs = win.localStorage;
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

  // ---- rendering ---------------------------------------------------------
  /** The chunk elements on screen and where each starts in `text`. */
  const chunks: PageElement[] = [];
  let starts: number[] = [];

  /** One chunk: a text node, or one span per line when numbering lines. */
  const buildChunk = (part: string, firstLine: number) => {
    const el = document.createElement("span");
    el.className = "chunk";
    if (!numbersBox.checked) {
      el.textContent = part;
      return el;
    }
    const lines = part.split("\n");
    if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
    let n = firstLine;
    for (const line of lines) {
      const span = document.createElement("span");
      // A number in an attribute shown by ::before is never selected or copied.
      span.dataset.n = String(++n);
      span.textContent = line;
      el.append(span);
    }
    return el;
  };

  /**
   * Puts `text` on screen, rebuilding from chunk `from` on: when a file only
   * grew (a log), the chunks before its last one are kept as they are. File
   * data only ever goes through textContent, never innerHTML.
   */
  const render = (from = 0) => {
    const keep = Math.min(from, chunks.length);
    for (const el of chunks.splice(keep)) el.remove();
    const offset = keep > 0 ? starts[keep]! : 0;
    const tail = chunkStarts(text.slice(offset), CHUNK_LINES).map((s) => s + offset);
    starts = [...starts.slice(0, keep), ...tail];
    const frag = document.createDocumentFragment();
    for (let i = keep; i < starts.length; i++) {
      const part = text.slice(starts[i], starts[i + 1] ?? text.length);
      const el = buildChunk(part, i * CHUNK_LINES);
      chunks.push(el);
      frag.append(el);
    }
    if (keep === 0) pre.replaceChildren(frag);
    else pre.append(frag);
    // CSSOM, not a style attribute: the CSP forbids the latter.
    pre.style.setProperty("--digits", String(Math.max(2, lineNumberDigits(text))));
  };

  const atBottom = () => isAtBottom(view.scrollTop, view.clientHeight, view.scrollHeight);
  const toBottom = () => {
    view.scrollTop = view.scrollHeight;
    // Chunks that come into view are laid out for real on the next frame and
    // may be taller than estimated (wrapped lines): stick to the end again.
    win.requestAnimationFrame(() => view.scrollTop = view.scrollHeight);
  };

  /** Shows new content, following the end only if the reader was there. */
  const showContent = (next: string) => {
    const follow = atBottom();
    const top = view.scrollTop;
    const height = view.scrollHeight;
    const grew = next.length > text.length && next.startsWith(text);
    text = next;
    render(grew ? chunks.length - 1 : 0);
    if (follow) {
      toBottom();
      below.hidden = true;
    } else {
      view.scrollTop = top;
      if (view.scrollHeight > height) below.hidden = false;
    }
  };

  const setError = (message: string | null) => {
    banner.hidden = message === null;
    bannerText.textContent = message ?? "";
    bannerKeep.hidden = text === "";
    body.classList.toggle("stale", message !== null);
  };

  // ---- status ------------------------------------------------------------
  type State = "connecting" | "connected" | "waiting" | "offline";
  let state: State = "connecting";
  const paintStatus = () => {
    const now = Date.now();
    let label: string;
    if (state === "connected") label = "connected";
    else if (state === "connecting") label = everConnected ? "reconnecting…" : "connecting…";
    else if (state === "offline") label = "offline";
    else label = `reconnecting in ${Math.max(1, Math.ceil((retryAt - now) / 1000))}s`;
    status.dataset.state = state;
    status.dataset.retryAt = retryTimer === undefined ? "" : String(retryAt);
    if (statusText.textContent !== label) statusText.textContent = label;
    const flag = state === "connected"
      ? (banner.hidden ? "" : "(error) ")
      : state === "offline"
      ? "(offline) "
      : everConnected
      ? "(reconnecting) "
      : "(connecting) ";
    document.title = flag + baseTitle;
    if (modifiedMs !== null) {
      const ago = formatAgo(modifiedMs, now);
      if (updatedAgo.textContent !== ago) updatedAgo.textContent = ago;
    }
  };
  const setState = (next: State) => {
    state = next;
    paintStatus();
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

  // ---- connection --------------------------------------------------------
  const onMessage = (frame: unknown) => {
    const msg = parseMessage(frame);
    if (!msg) return;
    receivedMs = Date.now();
    if (msg.type === "error") {
      setError(msg.message);
    } else {
      lastMod = msg.lastMod;
      body.dataset.lastMod = lastMod;
      modifiedMs = lastModToMs(lastMod);
      sizeEl.textContent = formatSize(msg.size);
      notice.hidden = !msg.lossy;
      setError(null);
      showContent(msg.text);
      paintUpdated();
    }
    paintStatus();
  };

  const schedule = () => {
    const delay = backoffDelay(attempt++, Math.random());
    retryAt = Date.now() + delay;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
    // Offline pages keep trying (a server on this machine needs no network),
    // but say why they are not connected; "online" retries at once.
    setState(navigator.onLine ? "waiting" : "offline");
  };

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (ws) return;
    // While an error is shown, ask for everything: if the file came back
    // unchanged, resuming would send nothing and the banner would stay.
    const url = socketUrl(location, banner.hidden ? lastMod : "");
    let sock: WebSocket;
    try {
      sock = new WebSocket(url, SUBPROTOCOL);
    } catch (e) {
      status.title = String(e);
      schedule();
      return;
    }
    ws = sock;
    setState("connecting");
    // A handshake to a host that went away (a laptop that slept, a changed
    // network) can hang for minutes before the browser gives up.
    const watchdog = setTimeout(() => sock.close(), CONNECT_TIMEOUT_MS);
    sock.onopen = () => {
      clearTimeout(watchdog);
      openedAt = Date.now();
      everConnected = true;
      status.title = "";
      setState("connected");
    };
    sock.onmessage = (ev) => {
      if (ws === sock) onMessage(ev.data);
    };
    sock.onclose = (ev) => {
      clearTimeout(watchdog);
      if (ws !== sock) return;
      ws = null;
      // Only a connection that lived a while proves the server is healthy;
      // one that dies at once must not reset the backoff into a tight loop.
      if (openedAt && Date.now() - openedAt > STABLE_AFTER_MS) attempt = 0;
      openedAt = 0;
      status.title = ev.code ? `closed: ${ev.code}${ev.reason ? " " + ev.reason : ""}` : "";
      schedule();
    };
  }

  /** Connects now instead of waiting; `fresh` also replaces an open socket. */
  const reconnectNow = (fresh: boolean) => {
    if (ws && fresh) {
      const old = ws;
      ws = null; // its close event is now ignored
      old.close();
    }
    if (ws) return;
    attempt = 0;
    connect();
  };
  // Back on the network: a socket from before may be dead without knowing it
  // (no close arrives until TCP gives up), so start a new one; resuming from
  // lastMod makes that cheap.
  win.addEventListener("online", () => reconnectNow(true));
  win.addEventListener("offline", () => {
    if (!ws) setState("offline");
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow(false);
  });
  // Page restored from the back/forward cache: its socket was closed.
  win.addEventListener("pageshow", (ev) => {
    if (ev.persisted) reconnectNow(false);
  });

  // ---- controls ----------------------------------------------------------
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
    render();
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
  render(); // the server's single text node, as chunks
  paintUpdated();
  view.focus({ preventScroll: true }); // so PageDown / End scroll the file at once
  setInterval(() => {
    if (state === "waiting" || modifiedMs !== null) paintStatus();
  }, 1000);
  connect();
}

/**
 * The page's one inline script: the helpers above and {@link clientMain},
 * as source, then a call, inside a function so nothing leaks into the
 * page's global scope. Built once, when this module is loaded.
 */
export const clientScript: string = [
  `(function () {`,
  `"use strict";`,
  `const SUBPROTOCOL = ${JSON.stringify(SUBPROTOCOL)};`,
  `const CHUNK_LINES = ${CHUNK_LINES};`,
  `const CONNECT_TIMEOUT_MS = ${CONNECT_TIMEOUT_MS};`,
  `const STABLE_AFTER_MS = ${STABLE_AFTER_MS};`,
  ...[
    backoffDelay,
    formatSize,
    lastModToMs,
    formatAgo,
    socketUrl,
    parseMessage,
    isAtBottom,
    chunkStarts,
    lineNumberDigits,
    clientMain,
  ].map((f) => f.toString()),
  "clientMain();",
  "})();",
].join("\n");
