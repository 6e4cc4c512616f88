/**
 * The large-file view (docs/page.md#the-whole-log-at-any-size): a file of any size, read
 * through the server's `/lines`, never whole. It keeps a *window* of at most
 * {@link WINDOW_MAX} lines in the DOM, inside a normal scroller, and fetches
 * the lines past either edge as the reader scrolls near it, dropping as many
 * at the other edge; a {@link LineCache} keeps recently fetched lines, so
 * going back costs no request.
 *
 * The file as a whole is its own scrollbar (`#bar`): browsers cap an
 * element's height far below what 40 million lines need, so instead of one
 * tall element scaled to fit (where a wheel notch would skip hundreds of
 * lines), the window scrolls natively and the bar maps a fraction of the
 * way down to a place in the file (src/client/scrollmap.ts): by line
 * numbers once the server's line index is complete, by bytes before.
 * Dragging it fetches the lines there, debounced while the pointer moves,
 * with a placeholder saying where it goes.
 *
 * It opens at the end, following: appends the connection brings are added
 * below (numbered, their bytes counted), and the view stays at the end while
 * the reader is there.
 * @module
 */
import { CHANGED_MS } from "./changes.ts";
import { matchRanges } from "./filter.ts";
import { appendLines, dropBytes, lineBytes, reachesEnd } from "./growth.ts";
import { LineCache } from "./linecache.ts";
import { parseLineHash } from "./links.ts";
import type { Shown } from "./pause.ts";
import type { Prefs } from "./prefs.ts";
import { utf8Length } from "./protocol.ts";
import type { Line, LinesAnswer } from "../shared/answers.ts";
import { HttpError, type LinesQuery } from "./remote.ts";
import { type LineRenderer, plainLine } from "./render.ts";
import type { WindowDraw } from "./draw.ts";
import { isAtBottom } from "./scroll.ts";
import {
  type Extent,
  fractionAtPointer,
  keyStep,
  type Place,
  placeAt,
  placeLabel,
  scrollFraction,
  thumbBox,
} from "./scrollmap.ts";
import { fillLine } from "./view.ts";
import { formatSize } from "../shared/format.ts";
import { lineCountDigits } from "../shared/chunks.ts";

/** The most lines in the DOM at once (the window); past it, lines leave at the edge away from the reader. */
export const WINDOW_MAX = 1_500;
/** Lines fetched past an edge at a time. */
export const EDGE_LINES = 300;
/** Lines fetched for a jump, and of those, how many come before the line jumped to when it is centred. */
export const JUMP_LINES = 400;
export const JUMP_CONTEXT = 150;
/** Screens of lines kept ready past each edge of the view before more are fetched. */
export const EDGE_SCREENS = 2;
/** While the bar is dragged, a jump waits for the pointer to rest this long, and never longer than the max. */
export const DRAG_DEBOUNCE_MS = 60;
export const DRAG_MAX_WAIT_MS = 250;
/** While the line index is being built, how often the view asks whether it is done (for the bar by lines). */
export const INDEX_POLL_MS = 2_000;
/** How long a jump to a line the index has not reached keeps trying (each wait the server's Retry-After). */
export const INDEX_WAIT_MS = 60_000;

/** Where the lines come from: `/lines` (src/client/remote.ts), or a test's fake. */
export interface LinesSource {
  lines(q: LinesQuery, signal?: AbortSignal): Promise<LinesAnswer>;
}

/** The view's elements (ids as src/page.ts writes them). */
export interface BigDom {
  /** `<body>`: the classes `wrap`, `numbers`, `large`, and `data-changed`. */
  body: HTMLElement;
  /** `#view`, the scroller; `#content`, the window's lines. */
  view: HTMLElement;
  pre: HTMLElement;
  /** `#bar` (role scrollbar) and its `#thumb`. */
  bar: HTMLElement;
  thumb: HTMLElement;
  /** `#loading`: where a jump goes while its lines are on their way, or why they did not come. */
  loading: HTMLElement;
  below: HTMLElement;
  wrap: HTMLInputElement;
  numbers: HTMLInputElement;
}

/** What the view tells, or asks of, the rest of the page. */
export interface BigHooks {
  /** The file is now `size` bytes of `total` lines (null: still being counted), version `lastMod`. */
  shown(size: number, total: number | null, lastMod: string): void;
  /** The reader clicked line `n`'s number: make the URL name it. */
  linked(n: number): void;
  /** Something to say about a jump (a line past the end): `bad` marks it as a mistake. */
  said(message: string, bad: boolean): void;
  /** Lines the file gained at its end (the search keeps filtering them). */
  appended(lines: readonly Line[]): void;
}

/** Where a jump puts its line: at the top (the bar), the middle (a link, a match), the bottom (the end). */
type Align = "top" | "center" | "bottom";

/** A line to mark: by number (a link), or by offset (a match, a time). */
type Target = { n: number } | { offset: number };

/** The large-file view. */
export class BigView {
  readonly #dom: BigDom;
  readonly #hooks: BigHooks;
  readonly #prefs: Prefs;
  readonly #source: LinesSource;
  /** How a line is drawn: pieces of its text, or a {@link WindowDraw} that also reads the window. */
  readonly #render: LineRenderer | WindowDraw;
  readonly #cache = new LineCache();
  /** The window: its lines, and one element each. */
  #win: Line[] = [];
  #els: HTMLElement[] = [];
  /** The window starts with the file's first line / ends with its last (as far as the view knows). */
  #startsFile = false;
  #endsFile = false;
  /** Bumped whenever the window is replaced: answers for an older one are dropped. */
  #gen = 0;
  /** False until the first window from `/lines` replaced the server's first screen. */
  #ready = false;
  /** Changes that came before that, folded. */
  #early: Shown[] = [];
  #size = 0;
  #total: number | null = null;
  #lastMod = "";
  /** The file ends inside a line (no newline yet): the next append continues it. */
  #open = false;
  #before: AbortController | null = null;
  #after: AbortController | null = null;
  #jump: AbortController | null = null;
  #jumpSeq = 0;
  #target: Target | null = null;
  /** Filter matches to mark in the lines shown (the search's), or null. */
  #marks: RegExp | null = null;
  /** Offsets of lines marked as new, until the mark times out. */
  #changed = new Set<number>();
  #changedTimer: number | undefined;
  #indexTimer: number | undefined;
  /** The bar while held: where it was grabbed, and the pending jump. */
  #drag: { grab: number; fraction: number; timer: number | undefined; since: number } | null = null;
  /** The reader is at the file's end and wants to stay there as it grows. */
  #follow = true;
  /** Where the reader sent the bar (a drag, keys) until the lines there are shown. */
  #aim: number | null = null;
  #keyTimer: number | undefined;
  #thumb = { size: 0, pos: 0 };
  #fraction = 1;
  #paintQueued = false;

  constructor(
    dom: BigDom,
    hooks: BigHooks,
    prefs: Prefs,
    source: LinesSource,
    render: LineRenderer | WindowDraw = plainLine,
  ) {
    this.#dom = dom;
    this.#hooks = hooks;
    this.#prefs = prefs;
    this.#source = source;
    this.#render = render;
    dom.wrap.checked = prefs.flag("wrap");
    dom.numbers.checked = prefs.flag("numbers");
  }

  /** Whether the view shows any line (an error banner then says the last content stays). */
  get hasText(): boolean {
    return this.#win.length > 0 || this.#dom.pre.childElementCount > 0;
  }

  /** The file's line count for Go to line; while it is being counted, any number may be asked. */
  get lineCount(): number {
    return this.#total ?? Number.MAX_SAFE_INTEGER;
  }

  /** Line links always name lines of the file here (the server numbers them). */
  linksOff(): string | null {
    return null;
  }

  /** The scrollbar's units: lines once the index is complete, bytes before. */
  get extent(): Extent {
    return this.#total !== null ? { unit: "line", total: this.#total } : { unit: "byte", total: this.#size };
  }

  /**
   * Starts from the server's page: `size` bytes of version `lastMod`, its
   * last screen already in `#content` (`open`: the file ends inside a line).
   * The lines come from `/lines` at once (with their numbers and offsets)
   * and replace that screen, unless a `#L…` link asks for another place.
   */
  start(size: number, lastMod: string, open: boolean, hash: string): void {
    this.#size = size;
    this.#lastMod = lastMod;
    this.#open = open;
    this.#applyToggles();
    this.#dom.bar.hidden = false;
    // The HTML showed its lines from the end by CSS (a reversed column): from here the script scrolls.
    this.#dom.view.classList.remove("end");
    this.#toBottom();
    this.#hooks.shown(size, null, lastMod);
    const n = parseLineHash(hash);
    if (n !== null) this.goToLine(n, true);
    // The server's last screen is what the first frame shows: the request for the lines waits until it is drawn.
    else requestAnimationFrame(() => setTimeout(() => void this.#go({ end: true }, "bottom", null)));
    this.#pollIndex();
  }

  /** Applies a change from the connection (an append, or the file replaced). */
  show(change: Shown): void {
    if (!this.#ready) {
      this.#early.push(change);
      return;
    }
    this.#lastMod = change.held.lastMod;
    if (change.kind === "replace") return this.#replaced(change.held.size);
    // Where the append starts, and what of it the view already read through /lines.
    const end = change.held.size;
    const start = end - utf8Length(change.added);
    if (end <= this.#size) return this.#shown();
    let added = change.added;
    if (start < this.#size) added = dropBytes(added, this.#size - start);
    const from = Math.max(start, this.#size);
    const gap = start > this.#size;
    const holdsEnd = this.#endsFile && !gap;
    const follow = this.#follow;
    const last = holdsEnd ? this.#win.at(-1) ?? null : null;
    // Bytes never seen: their lines are not counted, so neither are the new ones.
    const got = appendLines(last, this.#open, gap ? null : this.#total, added, from);
    this.#size = end;
    this.#open = got.open;
    this.#total = got.total;
    this.#cache.grew();
    // The search keeps filtering what arrives, wherever the view is.
    const touched = got.grown ? [got.grown, ...got.lines] : got.lines;
    this.#hooks.appended(touched);
    this.#shown();
    if (!holdsEnd) {
      // An end the window does not hold: only the extent grows, and a follower fetches the new lines.
      this.#endsFile = false;
      if (!follow) this.#dom.below.hidden = false;
      this.#extend();
      this.#queuePaint();
      return;
    }
    if (got.grown && last) {
      this.#win[this.#win.length - 1] = got.grown;
      const el = this.#lineEl(got.grown);
      this.#els.at(-1)!.replaceWith(el);
      this.#els[this.#els.length - 1] = el;
      if (got.lines.length === 0) this.#annotate();
    }
    this.#cache.put([...(got.grown ? [got.grown] : last ? [last] : []), ...got.lines], { eof: true });
    this.#addBelow(got.lines);
    this.#markChanged(touched.map((l) => l.offset));
    if (follow) {
      this.#toBottom();
      this.#trimFront();
    } else if (touched.length > 0) this.#dom.below.hidden = false;
    this.#queuePaint();
  }

  /** Shows line `n` (a `#L…` link, Go to line) and marks it; numbers go on for the visit. */
  goToLine(n: number, scroll: boolean): void {
    this.#target = { n };
    this.#numbersOn();
    this.#paintTarget();
    if (scroll) void this.#go({ line: n }, "center", { n });
  }

  /** Goes to the line a URL fragment names (`#L120`); anything else is not a line. */
  goToHash(hash: string): void {
    const n = parseLineHash(hash);
    if (n !== null) this.goToLine(n, true);
  }

  /** Shows the line starting at byte `offset` (a search match, a time found), marked; `n` its number if known. */
  goToOffset(offset: number, n: number | null): void {
    this.#target = n !== null ? { n } : { offset };
    this.#paintTarget();
    void this.#go({ offset }, "center", { offset });
  }

  /** Draws the lines shown again (how lines are drawn changed: JSON lines as fields or raw). */
  redraw(): void {
    this.#rerender();
  }

  /** Marks `re`'s matches in the lines shown (the search's query), or none. */
  setMarks(re: RegExp | null): void {
    if (this.#marks === re) return;
    this.#marks = re;
    this.#rerender();
  }

  /** Goes to the end and follows it (Resume, "New content below", End). */
  followEnd(): void {
    this.#dom.below.hidden = true;
    this.#follow = true;
    if (this.#endsFile) {
      this.#toBottom();
      this.#queuePaint();
    } else void this.#go({ end: true }, "bottom", null);
  }

  /** "New content below" was clicked. */
  belowClicked(): void {
    this.followEnd();
    this.focus();
  }

  /** The wrap toggle changed: the line at the top stays at the top. */
  wrapToggled(): void {
    this.#prefs.save("wrap", this.#dom.wrap.checked);
    const follow = this.#follow;
    const i = this.#firstVisible();
    this.#applyToggles();
    if (follow) this.#toBottom();
    else if (this.#els[i]) this.#dom.view.scrollTop = this.#els[i]!.offsetTop;
    this.#queuePaint();
  }

  /** The line numbers toggle changed (numbers are drawn by CSS: nothing is rebuilt). */
  numbersToggled(): void {
    this.#prefs.save("numbers", this.#dom.numbers.checked);
    const follow = this.#follow;
    this.#applyToggles();
    if (follow) this.#toBottom();
  }

  /** The pane scrolled: fetch past an edge that came near, move the bar, hide "new content below" at the end. */
  scrolled(): void {
    const { view } = this.#dom;
    // Scrolling away from the end stops following; reaching the file's end starts it again.
    if (!isAtBottom(view.scrollTop, view.clientHeight, view.scrollHeight)) this.#follow = false;
    else if (this.#endsFile) this.#follow = true;
    if (this.#follow) this.#dom.below.hidden = true;
    this.#extend();
    this.#queuePaint();
  }

  /** The pane changed size (a search's results opened above it, the window resized). */
  resized(): void {
    this.#extend();
    this.#queuePaint();
  }

  /** A click in the pane: on a line's number (its gutter, drawn by ::before), links that line. */
  clicked(ev: MouseEvent): void {
    const line = (ev.target as Element).closest?.(".ln");
    if (!(line instanceof HTMLElement) || !this.#dom.numbers.checked || !line.dataset.n) return;
    const gutter = parseFloat(getComputedStyle(line).paddingLeft);
    if (ev.clientX - line.getBoundingClientRect().left > gutter) return;
    const n = Number(line.dataset.n);
    this.#hooks.linked(n);
    this.goToLine(n, false);
  }

  /** Keys on the pane: Home and End go to the file's start and end, not the window's. */
  keydown(ev: KeyboardEvent): void {
    if (ev.altKey || ev.shiftKey || ev.metaKey) return;
    if (ev.key === "Home") {
      ev.preventDefault();
      void this.#go({ line: 1 }, "top", null);
    } else if (ev.key === "End") {
      ev.preventDefault();
      this.followEnd();
    }
  }

  /** Focuses the pane, so PageDown / End scroll the file at once. */
  focus(): void {
    this.#dom.view.focus({ preventScroll: true });
  }

  // ---- the scrollbar ---------------------------------------------------------

  /** A pointer went down on the bar: on the thumb, it is held where grabbed; elsewhere the view jumps there. */
  barDown(ev: PointerEvent): void {
    if (ev.button !== 0) return;
    ev.preventDefault();
    const { bar } = this.#dom;
    bar.setPointerCapture?.(ev.pointerId);
    const y = ev.clientY - bar.getBoundingClientRect().top;
    const t = this.#thumb;
    const grab = y >= t.pos && y <= t.pos + t.size ? y - t.pos : t.size / 2;
    this.#drag = { grab, fraction: this.#fraction, timer: undefined, since: performance.now() };
    this.#follow = false;
    bar.classList.add("dragging");
    this.#dragTo(y);
  }

  /** The pointer moved while the bar is held. */
  barMove(ev: PointerEvent): void {
    if (!this.#drag) return;
    this.#dragTo(ev.clientY - this.#dom.bar.getBoundingClientRect().top);
  }

  /** The bar was let go: the jump goes now. */
  barUp(): void {
    const d = this.#drag;
    if (!d) return;
    clearTimeout(d.timer);
    this.#drag = null;
    this.#dom.bar.classList.remove("dragging");
    this.#jumpTo(d.fraction);
  }

  /** Keys on the focused bar: arrows a hundredth of the file, Page keys a tenth, Home and End the ends. */
  barKey(ev: KeyboardEvent): void {
    const step = keyStep(ev.key);
    if (step === null) return;
    ev.preventDefault();
    const f = Math.min(1, Math.max(0, (this.#aim ?? this.#fraction) + step));
    this.#aim = f;
    this.#paintBar(f, this.#visibleUnits());
    // Held keys repeat: one jump once they rest.
    clearTimeout(this.#keyTimer);
    this.#keyTimer = setTimeout(() => this.#jumpTo(f), 2 * DRAG_DEBOUNCE_MS);
  }

  #dragTo(y: number): void {
    const d = this.#drag!;
    const f = fractionAtPointer(y, d.grab, this.#dom.bar.clientHeight, this.#thumb.size);
    d.fraction = f;
    this.#aim = f;
    const visible = this.#visibleUnits();
    this.#paintBar(f, visible);
    this.#say(`Going to ${placeLabel(placeAt(f, this.extent, visible), this.extent)}…`, false);
    clearTimeout(d.timer);
    // Debounced while moving, but a long drag still shows where it is every DRAG_MAX_WAIT_MS.
    const now = performance.now();
    const wait = now - d.since >= DRAG_MAX_WAIT_MS ? 0 : DRAG_DEBOUNCE_MS;
    d.timer = setTimeout(() => {
      if (this.#drag !== d) return;
      d.since = performance.now();
      this.#jumpTo(d.fraction, true);
    }, wait);
  }

  #jumpTo(fraction: number, dragging = false): void {
    clearTimeout(this.#keyTimer);
    const place = placeAt(fraction, this.extent, this.#visibleUnits());
    if ("end" in place && !dragging) {
      this.#aim = null;
      return this.followEnd();
    }
    this.#follow = false;
    void this.#go(place, "end" in place ? "bottom" : "top", null);
  }

  // ---- fetching --------------------------------------------------------------

  /**
   * Replaces the window with the lines at `place`, the line there aligned
   * as asked and `mark` marked. A newer jump cancels this one.
   */
  async #go(place: Place, align: Align, mark: Target | null): Promise<void> {
    const seq = ++this.#jumpSeq;
    this.#jump?.abort();
    const ctl = new AbortController();
    this.#jump = ctl;
    const started = Date.now();
    if (!this.#drag) this.#say(`Going to ${placeLabel(place, this.extent)}…`, false);
    for (;;) {
      try {
        const got = this.#fromCache(place, align) ?? await this.#fetchAround(place, align, ctl.signal);
        if (seq !== this.#jumpSeq) return;
        if (got === null) {
          // A line past the end: the view stays where it was.
          this.#say("", false);
          const total = this.#total;
          if ("line" in place && total !== null) {
            this.#hooks.said(
              `There is no line ${place.line.toLocaleString("en")}: the file has ${total.toLocaleString("en")} lines`,
              true,
            );
          }
          return;
        }
        this.#aim = null;
        // Lines read before the last append arrived do not end where the file ends now.
        this.#show(got.lines, got.at, got.startsFile, got.endsFile && got.size >= this.#size, align);
        if (mark) this.#paintTarget();
        if (!this.#drag) this.#say("", false);
        this.#flushEarly();
        return;
      } catch (e) {
        if (seq !== this.#jumpSeq || ctl.signal.aborted) return;
        // A line the server's index has not reached yet: it says when to ask again.
        if (e instanceof HttpError && e.status === 503 && Date.now() - started < INDEX_WAIT_MS) {
          this.#say(`Counting lines to reach ${placeLabel(place, this.extent)}…`, false);
          await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(250, e.retryAfterMs ?? 1_000))));
          if (seq !== this.#jumpSeq) return;
          continue;
        }
        this.#say(`Cannot show ${placeLabel(place, this.extent)}: ${e instanceof Error ? e.message : e}`, true);
        this.#flushEarly();
        return;
      }
    }
  }

  /** The lines around `place` from the cache, when it holds enough of them. */
  #fromCache(place: Place, align: Align): Slice | null {
    const before = align === "top" ? 0 : align === "center" ? JUMP_CONTEXT : JUMP_LINES;
    const after = JUMP_LINES - before;
    const s = "end" in place
      ? null
      : this.#cache.get("line" in place ? { n: place.line } : { offset: place.offset }, before, after);
    if (!s) return null;
    const enoughBefore = s.at >= Math.min(before, 1) || s.startsFile;
    const enoughAfter = s.lines.length - s.at >= Math.min(after, EDGE_LINES) || s.endsFile;
    return enoughBefore && enoughAfter ? { ...s, size: this.#size } : null;
  }

  /** The lines around `place` from the server: null when there is no such line. */
  async #fetchAround(place: Place, align: Align, signal: AbortSignal): Promise<Slice | null> {
    if ("end" in place) {
      const a = await this.#ask({ end: true, count: JUMP_LINES }, signal);
      this.#cache.put(a.lines, { eof: true });
      const first = a.lines[0];
      return {
        lines: a.lines,
        at: Math.max(0, a.lines.length - 1),
        startsFile: first?.offset === 0,
        endsFile: true,
        size: a.size,
      };
    }
    if ("line" in place) {
      const ctx = align === "top" ? 0 : JUMP_CONTEXT;
      const from = Math.max(1, place.line - ctx);
      const a = await this.#ask({ line: from, count: JUMP_LINES }, signal);
      const at = place.line - from;
      if (at >= a.lines.length) return null;
      const endsFile = this.#reachedEnd(a, JUMP_LINES);
      this.#cache.put(a.lines, { eof: endsFile });
      return { lines: a.lines, at, startsFile: from === 1, endsFile, size: a.size };
    }
    // By offset: the lines before it, and from it, asked at once.
    const ctx = align === "top" ? 0 : JUMP_CONTEXT;
    const [b, a] = await Promise.all([
      ctx > 0 ? this.#ask({ offset: place.offset, count: -ctx }, signal) : null,
      this.#ask({ offset: place.offset, count: JUMP_LINES - ctx }, signal),
    ]);
    const before = b?.lines ?? [];
    const endsFile = this.#reachedEnd(a, JUMP_LINES - ctx);
    if (before.length > 0) this.#cache.put(before);
    this.#cache.put(a.lines, { eof: endsFile });
    const lines = [...before, ...a.lines.filter((l) => l.offset > (before.at(-1)?.offset ?? -1))];
    if (lines.length === 0) return null;
    const at = a.lines.length > 0 ? before.length : lines.length - 1;
    return { lines, at, startsFile: lines[0]!.offset === 0, endsFile, size: a.size };
  }

  /** Asks `/lines`, and learns the file's size and line count from the answer. */
  async #ask(q: LinesQuery, signal?: AbortSignal): Promise<LinesAnswer> {
    const a = await this.#source.lines(q, signal);
    this.#learn(a);
    return a;
  }

  /** Whether an answer asked for `count` lines reached the file's end. */
  #reachedEnd(a: LinesAnswer, count: number): boolean {
    const last = a.lines.at(-1);
    return a.lines.length < count && (last === undefined || reachesEnd(last, a.size));
  }

  /** What an answer says of the file: newer sizes and counts are taken; an older answer's are not. */
  #learn(a: LinesAnswer): void {
    if (a.size < this.#size) return;
    if (a.size > this.#size) {
      // The file grew past what the connection told: the window's end is no longer the file's.
      if (this.#ready && this.#endsFile) this.#endsFile = false;
      this.#cache.grew();
      this.#size = a.size;
      const last = a.lines.at(-1);
      if (last && reachesEnd(last, a.size)) this.#open = last.offset + lineBytes(last) >= a.size;
    }
    if (a.total !== null) this.#total = a.total;
    this.#shown();
  }

  /** Fetches past an edge of the window that came within {@link EDGE_SCREENS} screens of the view. */
  #extend(): void {
    if (!this.#ready || this.#win.length === 0) return;
    const { view } = this.#dom;
    const edge = Math.max(600, EDGE_SCREENS * view.clientHeight);
    if (!this.#startsFile && !this.#before && view.scrollTop < edge) void this.#extendUp();
    const below = view.scrollHeight - view.scrollTop - view.clientHeight;
    if (!this.#endsFile && !this.#after && below < edge) void this.#extendDown();
  }

  async #extendUp(): Promise<void> {
    const gen = this.#gen;
    const first = this.#win[0]!;
    const ctl = new AbortController();
    this.#before = ctl;
    try {
      let lines: Line[];
      let startsFile: boolean;
      const hit = this.#cache.get({ offset: first.offset }, EDGE_LINES, 1);
      if (hit && (hit.at >= EDGE_LINES || hit.startsFile)) {
        lines = hit.lines.slice(0, hit.at);
        startsFile = hit.startsFile;
      } else {
        // One line of overlap (the window's first) joins the answer to what the cache holds.
        const a = await this.#ask({ offset: first.offset + 1, count: -(EDGE_LINES + 1) }, ctl.signal);
        this.#cache.put(a.lines);
        lines = a.lines.filter((l) => l.offset < first.offset);
        startsFile = lines.length === 0 || lines[0]!.offset === 0;
      }
      if (gen !== this.#gen) return;
      this.#addAbove(lines);
      this.#startsFile = startsFile;
    } catch (e) {
      if (!ctl.signal.aborted) this.#say(`Cannot read earlier lines: ${(e as Error).message}`, true);
    } finally {
      if (this.#before === ctl) this.#before = null;
    }
    if (gen === this.#gen) this.#extend();
  }

  async #extendDown(): Promise<void> {
    const gen = this.#gen;
    const last = this.#win.at(-1)!;
    const ctl = new AbortController();
    this.#after = ctl;
    try {
      let lines: Line[];
      let endsFile: boolean;
      const hit = this.#cache.get({ offset: last.offset }, 0, EDGE_LINES + 1);
      if (hit && (hit.lines.length > EDGE_LINES || hit.endsFile) && hit.lines.length > 1) {
        lines = hit.lines.slice(1);
        endsFile = hit.endsFile;
      } else {
        // From the window's last line itself: one line of overlap, and it may have grown.
        const a = await this.#ask({ offset: last.offset, count: EDGE_LINES + 1 }, ctl.signal);
        endsFile = this.#reachedEnd(a, EDGE_LINES + 1);
        this.#cache.put(a.lines, { eof: endsFile });
        lines = a.lines.filter((l) => l.offset > last.offset);
      }
      if (gen !== this.#gen) return;
      this.#addBelow(lines);
      this.#endsFile = endsFile;
      if (this.#follow) this.#toBottom();
    } catch (e) {
      if (!ctl.signal.aborted) this.#say(`Cannot read further lines: ${(e as Error).message}`, true);
    } finally {
      if (this.#after === ctl) this.#after = null;
    }
    if (gen === this.#gen) {
      this.#trimFront();
      this.#extend();
    }
  }

  /** While lines are still being counted, asks now and then whether they are, then numbers the window. */
  #pollIndex(): void {
    clearTimeout(this.#indexTimer);
    this.#indexTimer = setTimeout(async () => {
      if (this.#total === null) {
        try {
          await this.#ask({ end: true, count: 1 });
        } catch (e) {
          // A refusal that asking again will not change (no such route, no access): stop asking.
          if (e instanceof HttpError && e.status >= 400 && e.status < 500 && e.status !== 429) return;
        }
      }
      if (this.#total === null) return this.#pollIndex();
      await this.#renumber();
    }, INDEX_POLL_MS);
  }

  /** Gives the window's lines their numbers once the index has them. */
  async #renumber(): Promise<void> {
    const gen = this.#gen;
    const first = this.#win[0];
    if (!first || this.#win.every((l) => l.n !== null)) return;
    try {
      const a = await this.#ask({ offset: first.offset, count: Math.min(this.#win.length, 10_000) });
      if (gen !== this.#gen) return;
      this.#cache.put(a.lines);
      const byOffset = new Map(a.lines.map((l) => [l.offset, l.n]));
      this.#win.forEach((l, i) => {
        const n = byOffset.get(l.offset);
        if (n == null || l.n === n) return;
        this.#win[i] = { ...l, n };
        this.#els[i]!.dataset.n = String(n);
      });
      this.#digits();
      this.#paintTarget();
      this.#queuePaint();
    } catch { /* the numbers come with the next answers */ }
  }

  /** The file was replaced (rotated, truncated, rewritten): nothing held is true any more. */
  #replaced(size: number): void {
    const follow = this.#follow;
    const top = this.#win[this.#firstVisible()];
    this.#cache.clear();
    this.#size = size;
    this.#total = null;
    this.#open = false;
    this.#endsFile = false;
    this.#shown();
    if (follow || !top) void this.#go({ end: true }, "bottom", null);
    else void this.#go(top.n !== null ? { line: top.n } : { offset: Math.min(top.offset, size) }, "top", null);
    this.#pollIndex();
  }

  /** Changes that came before the first window, applied now on top of it. */
  #flushEarly(): void {
    if (this.#ready) return;
    this.#ready = true;
    const early = this.#early;
    this.#early = [];
    for (const c of early) this.show(c);
    this.#extend();
  }

  // ---- the window in the DOM -------------------------------------------------

  /** Shows `lines` as the window, line `at` placed as `align` says. */
  #show(lines: Line[], at: number, startsFile: boolean, endsFile: boolean, align: Align): void {
    this.#gen++;
    this.#before?.abort();
    this.#after?.abort();
    this.#before = this.#after = null;
    // A window never holds more than its bound, whatever the answer: the lines around `at` stay.
    if (lines.length > WINDOW_MAX) {
      const from = Math.max(0, Math.min(at - (WINDOW_MAX >> 1), lines.length - WINDOW_MAX));
      if (from > 0) startsFile = false;
      if (from + WINDOW_MAX < lines.length) endsFile = false;
      lines = lines.slice(from, from + WINDOW_MAX);
      at -= from;
    }
    this.#win = lines;
    this.#els = lines.map((l) => this.#lineEl(l));
    this.#startsFile = startsFile;
    this.#endsFile = endsFile;
    this.#dom.pre.replaceChildren(...this.#els);
    this.#annotate();
    this.#dom.pre.setAttribute("aria-busy", "false");
    this.#digits();
    const { view } = this.#dom;
    const el = this.#els[at];
    this.#follow = align === "bottom" && endsFile;
    if (align === "bottom" || !el) this.#toBottom();
    else if (align === "top") view.scrollTop = el.offsetTop;
    else view.scrollTop = el.offsetTop - Math.max(0, (view.clientHeight - el.offsetHeight) / 2);
    this.#dom.below.hidden = true;
    this.#paintChanged();
    this.#queuePaint();
    if (this.#ready) this.#extend();
    // The first lines from /lines are on screen (bench/bigpage.ts reads it).
    else performance.mark("filewatch:window");
  }

  /** Adds `lines` above the window, keeping what the reader sees where it is. */
  #addAbove(lines: readonly Line[]): void {
    if (lines.length === 0) return;
    const { view, pre } = this.#dom;
    const els = lines.map((l) => this.#lineEl(l));
    const height = view.scrollHeight;
    const top = view.scrollTop;
    pre.prepend(...els);
    this.#win = [...lines, ...this.#win];
    this.#els = [...els, ...this.#els];
    this.#annotate();
    view.scrollTop = top + (view.scrollHeight - height);
    // The far edge (below) gives way.
    const over = this.#win.length - WINDOW_MAX;
    if (over > 0) {
      for (const el of this.#els.splice(this.#els.length - over)) el.remove();
      this.#win.splice(this.#win.length - over);
      this.#annotate();
      this.#endsFile = false;
    }
    this.#digits();
    this.#paintChanged();
    this.#queuePaint();
  }

  /** Adds `lines` below the window (the reader's view does not move). */
  #addBelow(lines: readonly Line[]): void {
    if (lines.length === 0) return;
    const els = lines.map((l) => this.#lineEl(l));
    this.#dom.pre.append(...els);
    this.#win.push(...lines);
    this.#els.push(...els);
    this.#annotate();
    this.#digits();
  }

  /** Drops lines from the top past the window's bound, keeping what the reader sees where it is. */
  #trimFront(): void {
    const over = this.#win.length - WINDOW_MAX;
    if (over <= 0) return;
    const { view } = this.#dom;
    const follow = this.#follow;
    const height = this.#els[over]!.offsetTop - this.#els[0]!.offsetTop;
    for (const el of this.#els.splice(0, over)) el.remove();
    this.#win.splice(0, over);
    this.#annotate();
    this.#startsFile = false;
    if (follow) this.#toBottom();
    else view.scrollTop -= height;
    this.#paintChanged();
  }

  /** One line's element: its number in `data-n` (drawn by CSS), its text as the renderer's pieces. */
  #lineEl(line: Line): HTMLElement {
    const el = this.#dom.pre.ownerDocument.createElement("span");
    el.className = "ln";
    el.dataset.n = line.n === null ? "" : String(line.n);
    if (line.cut) el.dataset.cut = ` … cut: the line has ${formatSize(line.bytes ?? 0)}`;
    if (typeof this.#render === "function") {
      fillLine(el, this.#render(line.text, this.#marks ? matchRanges(this.#marks, line.text) : []));
    } else this.#render.line(el, line, this.#marks);
    if (this.#isTarget(line)) el.classList.add("target");
    return el;
  }

  #rerender(): void {
    this.#els.forEach((old, i) => {
      const el = this.#lineEl(this.#win[i]!);
      old.replaceWith(el);
      this.#els[i] = el;
    });
    this.#annotate();
    this.#paintChanged();
  }

  /** Lets a {@link WindowDraw} read the window as it now is (its entries need a line's neighbours). */
  #annotate(): void {
    if (typeof this.#render !== "function") this.#render.window(this.#win, this.#els);
  }

  #isTarget(line: Line): boolean {
    const t = this.#target;
    return t !== null && ("n" in t ? line.n === t.n : line.offset === t.offset);
  }

  #paintTarget(): void {
    this.#els.forEach((el, i) => el.classList.toggle("target", this.#isTarget(this.#win[i]!)));
  }

  /** The index of the first line (partly) in view. */
  #firstVisible(): number {
    const top = this.#dom.view.scrollTop;
    let lo = 0;
    let hi = this.#els.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const el = this.#els[mid]!;
      if (el.offsetTop + el.offsetHeight <= top) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The index of the last line (partly) in view. */
  #lastVisible(): number {
    const bottom = this.#dom.view.scrollTop + this.#dom.view.clientHeight;
    let lo = 0;
    let hi = this.#els.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#els[mid]!.offsetTop < bottom) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** How many of the bar's units are in view: lines, or the bytes of the lines in view. */
  #visibleUnits(): number {
    if (this.#els.length === 0) return 0;
    const a = this.#firstVisible();
    const b = this.#lastVisible();
    if (this.#total !== null) return Math.max(1, b - a + 1);
    const next = this.#win[b + 1]?.offset ?? this.#size;
    return Math.max(1, next - this.#win[a]!.offset);
  }

  #toBottom(): void {
    const { view } = this.#dom;
    view.scrollTop = view.scrollHeight;
  }

  #numbersOn(): void {
    if (this.#dom.numbers.checked) return;
    // Numbered for this visit (not saved): a link names a line by its number.
    this.#dom.numbers.checked = true;
    this.#applyToggles();
  }

  #applyToggles(): void {
    const { body, wrap, numbers } = this.#dom;
    body.classList.toggle("wrap", wrap.checked);
    body.classList.toggle("numbers", numbers.checked);
  }

  #digits(): void {
    // CSSOM, not a style attribute: the CSP forbids the latter.
    const last = this.#win.at(-1)?.n ?? this.#total ?? 0;
    this.#dom.pre.style.setProperty("--digits", String(Math.max(2, lineCountDigits(last))));
  }

  #shown(): void {
    this.#hooks.shown(this.#size, this.#total, this.#lastMod);
  }

  /** Says where a jump goes, or why it could not (`bad`); "" takes the placeholder away. */
  #say(text: string, bad: boolean): void {
    const { loading, pre } = this.#dom;
    loading.textContent = text;
    loading.hidden = text === "";
    loading.classList.toggle("bad", bad);
    pre.setAttribute("aria-busy", String(text !== "" && !bad));
  }

  // ---- the bar, painted -----------------------------------------------------

  #queuePaint(): void {
    if (this.#paintQueued) return;
    this.#paintQueued = true;
    requestAnimationFrame(() => {
      this.#paintQueued = false;
      if (!this.#drag && this.#aim === null) this.#paintFromView();
    });
  }

  /** Puts the thumb where the view is. */
  #paintFromView(): void {
    if (this.#els.length === 0) return;
    const { view } = this.#dom;
    const visible = this.#visibleUnits();
    let f: number;
    if (this.#follow || (this.#endsFile && isAtBottom(view.scrollTop, view.clientHeight, view.scrollHeight))) f = 1;
    else if (this.#startsFile && view.scrollTop <= 0) f = 0;
    else {
      const first = this.#win[this.#firstVisible()]!;
      const ext = this.extent;
      const top = ext.unit === "line" && first.n !== null ? first.n - 1 : first.offset;
      f = ext.unit === "line" && first.n === null
        ? scrollFraction(first.offset, 0, this.#size)
        : scrollFraction(top, visible, ext.total);
    }
    this.#fraction = f;
    this.#paintBar(f, visible);
  }

  #paintBar(f: number, visible: number): void {
    const { bar, thumb } = this.#dom;
    const ext = this.extent;
    this.#thumb = thumbBox(bar.clientHeight, f, visible, ext.total);
    thumb.style.height = `${this.#thumb.size}px`;
    thumb.style.transform = `translateY(${this.#thumb.pos}px)`;
    bar.setAttribute("aria-valuenow", String(Math.round(f * 100)));
    const first = this.#win[this.#firstVisible()];
    bar.setAttribute(
      "aria-valuetext",
      ext.unit === "line" && first?.n != null
        ? `line ${first.n.toLocaleString("en")} of ${ext.total.toLocaleString("en")}`
        : `${Math.round(f * 100)}% of the file`,
    );
  }

  // ---- new lines, marked -------------------------------------------------------

  #markChanged(offsets: number[]): void {
    for (const o of offsets) this.#changed.add(o);
    this.#paintChanged();
    clearTimeout(this.#changedTimer);
    this.#changedTimer = setTimeout(() => {
      this.#changed.clear();
      this.#paintChanged();
    }, CHANGED_MS);
  }

  /** Marks the new lines in the window with the CSS Custom Highlight API (no node changes). */
  #paintChanged(): void {
    if (typeof Highlight === "undefined" || !("highlights" in CSS)) return;
    const ranges: Range[] = [];
    if (this.#changed.size > 0) {
      const doc = this.#dom.pre.ownerDocument;
      this.#win.forEach((l, i) => {
        if (!this.#changed.has(l.offset)) return;
        const r = doc.createRange();
        r.selectNodeContents(this.#els[i]!);
        ranges.push(r);
      });
    }
    if (ranges.length === 0) {
      CSS.highlights.delete("fw-changed");
      delete this.#dom.body.dataset.changed;
      return;
    }
    CSS.highlights.set("fw-changed", new Highlight(...ranges));
    this.#dom.body.dataset.changed = String(ranges.length);
  }
}

/** Lines to show as the window, and which of them a jump is about. */
interface Slice {
  lines: Line[];
  at: number;
  startsFile: boolean;
  endsFile: boolean;
  /** The file's size the lines were read at (an older answer's end is not the file's end now). */
  size: number;
}
