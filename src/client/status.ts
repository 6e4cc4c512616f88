/**
 * What the page says about itself, around the text: the connection's state
 * (and the tab title's prefix), the error banner, the notices (not UTF-8,
 * "showing the last X of Y", lines dropped), the size and when the file was
 * modified. docs/page.md#connection and #errors describe what a reader sees.
 * @module
 */
import { formatAgo, formatSize, tokenTimeMs, windowNotice } from "../shared/format.ts";
import type { El } from "./dom.ts";
import { noLinksReason } from "./links.ts";
import type { Status } from "./live.ts";
import type { FileText } from "./text.ts";

/** The connection as the status shows it ({@link Live} is one). */
export interface Connection {
  status: Status;
  everConnected: boolean;
  /** When the scheduled retry fires, while one is scheduled. */
  retryAt: number | null;
  /** Why the last connection closed ("" when it did not say). */
  closed: string;
}

/** The elements the status paints (ids as src/page.ts writes them). */
export interface StatusDom {
  /** `<body>`: `data-last-mod`, `data-offset`, `data-size`, and the classes `stale` and `linkable`. */
  body: El;
  /** `#status` and its `#status-text`. */
  status: El;
  statusText: El;
  /** `#banner`, its `#banner-text`, and `#banner-keep` ("showing the last content received"). */
  banner: El;
  bannerText: El;
  bannerKeep: El;
  /** `#notice` (not UTF-8), `#window` with `#window-text` (the last X of Y), `#dropped`. */
  notice: El;
  windowBox: El;
  windowText: El;
  dropped: El;
  size: El;
  /** `#updated-wrap`, the `<time id="updated">` in it, and `#updated-ago`. */
  updatedWrap: El;
  updated: El & { dateTime: string };
  updatedAgo: El;
  /** The document, for its title. */
  doc: { title: string };
}

/** The connection's words for `c`, at `now`. */
export function connectionLabel(c: Connection, now: number): string {
  if (c.status === "connected") return "connected";
  if (c.status === "connecting") return c.everConnected ? "reconnecting…" : "connecting…";
  if (c.status === "offline") return "offline";
  return `reconnecting in ${Math.max(1, Math.ceil(((c.retryAt ?? now) - now) / 1000))}s`;
}

/** The tab title's prefix for `c`, so a background tab says it too. */
export function titleFlag(c: Connection, error: boolean): string {
  if (c.status === "connected") return error ? "(error) " : "";
  if (c.status === "offline") return "(offline) ";
  return c.everConnected ? "(reconnecting) " : "(connecting) ";
}

/** The page's status, notices and banner. */
export class StatusBar {
  readonly #dom: StatusDom;
  readonly #now: () => number;
  readonly #baseTitle: string;
  /** When the shown version was modified (from its token); null when unknown. */
  #modifiedMs: number | null = null;
  /** When this page last heard of the file. */
  #receivedMs: number;
  /** The title's connection prefix, as last painted. */
  #flag = "";
  /** Lines that arrived while the tab was hidden (the title counts them). */
  #unseen = 0;

  /** `lastMod`: the version the server's page showed; `now` the clock (ms since the epoch). */
  constructor(dom: StatusDom, lastMod: string, now: () => number = Date.now) {
    this.#dom = dom;
    this.#now = now;
    this.#baseTitle = dom.doc.title;
    this.#modifiedMs = tokenTimeMs(lastMod);
    this.#receivedMs = now();
  }

  /** The error the banner shows (the server's page may start with one), or null. */
  get error(): string | null {
    return this.#dom.banner.hidden ? null : this.#dom.bannerText.textContent;
  }

  /** Whether the not-UTF-8 notice is up (the server's page shows it for a text decoded lossily). */
  get lossy(): boolean {
    return !this.#dom.notice.hidden;
  }

  /** Something arrived: version `lastMod` (its time is what "modified" says), or, without one, an error. */
  received(lastMod?: string): void {
    this.#receivedMs = this.#now();
    if (lastMod !== undefined) this.#modifiedMs = tokenTimeMs(lastMod);
  }

  /** Shows `message` over the content (null: takes it away); `keeping`: the last content stays under it. */
  showError(message: string | null, keeping: boolean): void {
    const d = this.#dom;
    d.banner.hidden = message === null;
    d.bannerText.textContent = message ?? "";
    d.bannerKeep.hidden = !keeping;
    d.body.classList.toggle("stale", message !== null);
  }

  /** Says which part of the file is shown, and that the page dropped lines when it did. */
  showText(shown: FileText): void {
    const d = this.#dom;
    d.body.dataset.lastMod = shown.lastMod;
    d.body.dataset.offset = String(shown.offset);
    d.body.dataset.size = String(shown.size);
    d.size.textContent = formatSize(shown.size);
    d.notice.hidden = !shown.lossy;
    const notice = windowNotice(shown.offset, shown.size);
    d.windowText.textContent = notice;
    d.windowBox.hidden = notice === "";
    d.dropped.hidden = !shown.dropped;
    d.body.classList.toggle("linkable", noLinksReason(shown.offset, shown.dropped) === null);
  }

  /**
   * The large-file view's size: `size` bytes of `total` lines ("4.0 GiB,
   * 41,943,040 lines"; "counting lines…" while the server's index is built).
   */
  showExtent(size: number, total: number | null, lastMod: string): void {
    const d = this.#dom;
    d.body.dataset.lastMod = lastMod;
    d.body.dataset.size = String(size);
    const lines = total === null
      ? "counting lines…"
      : `${total.toLocaleString("en")} ${total === 1 ? "line" : "lines"}`;
    const text = `${formatSize(size)}, ${lines}`;
    if (d.size.textContent !== text) d.size.textContent = text;
    d.body.classList.add("linkable");
  }

  /** Paints the connection's state, the title and "5 min ago". */
  showConnection(c: Connection): void {
    const d = this.#dom;
    const now = this.#now();
    const label = connectionLabel(c, now);
    d.status.dataset.state = c.status;
    d.status.dataset.retryAt = c.retryAt === null ? "" : String(c.retryAt);
    d.status.title = c.closed;
    if (d.statusText.textContent !== label) d.statusText.textContent = label;
    this.#flag = titleFlag(c, !d.banner.hidden);
    this.#paintTitle();
    if (this.#modifiedMs !== null) {
      const ago = formatAgo(this.#modifiedMs, now);
      if (d.updatedAgo.textContent !== ago) d.updatedAgo.textContent = ago;
    }
  }

  /** Says in the title how many lines arrived while the tab was hidden: `(12) app.log — filewatch` (0: none). */
  setUnseen(lines: number): void {
    this.#unseen = lines;
    this.#paintTitle();
  }

  #paintTitle(): void {
    const count = this.#unseen > 0 ? `(${this.#unseen.toLocaleString("en-US")}) ` : "";
    this.#dom.doc.title = this.#flag + count + this.#baseTitle;
  }

  /** Once a second: the countdown and "N s ago" move on (nothing to do when neither shows). */
  tick(c: Connection): void {
    if (c.status === "waiting" || this.#modifiedMs !== null) this.showConnection(c);
  }

  /** Paints when the shown version was modified (local time; the tooltip says when it was received). */
  showModified(): void {
    if (this.#modifiedMs === null) return;
    const d = this.#dom;
    const date = new Date(this.#modifiedMs);
    d.updatedWrap.hidden = false;
    const today = date.toDateString() === new Date(this.#now()).toDateString();
    d.updated.dateTime = date.toISOString();
    d.updated.textContent = today ? date.toLocaleTimeString() : date.toLocaleString();
    d.updated.title = `modified ${date.toLocaleString()}; received ${new Date(this.#receivedMs).toLocaleString()}`;
  }
}
