/**
 * The content pane: the text (or, with a filter on, only its matching
 * lines), line numbers and wrapping, the marks on changed lines and on a
 * linked line, and follow mode (docs/page.md#follow-mode).
 *
 * It is fed, and knows nothing of where the text comes from: {@link
 * ContentView.start} with what the server's page held, then {@link
 * ContentView.show} with each change to show (today the connection's,
 * through pause). It keeps what it shows as {@link Lines}, the whole text in
 * memory; a view of files too large to hold, fed line ranges by the server,
 * would replace what feeds `show()` and what `Lines` holds. How a line is
 * drawn, and which lines show besides the filter's (levels, marks, whole
 * entries), is the {@link LineReader} it is given.
 *
 * Reading works on what is *shown*, which lags what the connection holds
 * while paused.
 * @module
 */
import { appendedLines, CHANGED_MS, changedLines, type LineRange, mergeRanges, shiftRanges } from "./changes.ts";
import type { Filter } from "./filter.ts";
import { FilteredView } from "./filtered.ts";
import { Lines } from "./lines.ts";
import { noLinksReason, parseLineHash } from "./links.ts";
import type { Shown } from "./pause.ts";
import type { Prefs } from "./prefs.ts";
import { type LineReader, PlainReader } from "./draw.ts";
import { isAtBottom } from "./scroll.ts";
import { type FileText, NOTHING } from "./text.ts";
import { TextView } from "./view.ts";

/** The pane's elements (ids as src/page.ts writes them). */
export interface ContentDom {
  /** `<body>`: the classes `wrap` and `numbers`, and `data-changed` (how many ranges are marked). */
  body: HTMLElement;
  /** `#view`, the one scroller; `#content`, the text; `#filtered`, the matching lines. */
  view: HTMLElement;
  pre: HTMLElement;
  filtered: HTMLElement;
  /** `#below`: "New content below ↓". */
  below: HTMLElement;
  /** The `#wrap` and `#numbers` toggles. */
  wrap: HTMLInputElement;
  numbers: HTMLInputElement;
}

/** What the pane tells, or asks of, the rest of the page. */
export interface ContentHooks {
  /** It now shows `text` (the status says which part of the file that is). */
  shown(text: FileText): void;
  /** With a filter on: `hits` of `total` lines match. */
  counted(hits: number, total: number): void;
  /** A line is to be shown in its context: clear the filter (which comes back through `setFilter`). */
  clearFilter(): void;
  /** The reader clicked line `n`'s number: make the URL name it. */
  linked(n: number): void;
  /** How lines are drawn, and which show besides the filter's; lines as they are when absent. */
  reader?: LineReader;
}

/** The pane's state as plain data: what a URL could carry, or a test compare. */
export interface ContentState {
  wrap: boolean;
  numbers: boolean;
  /** The line a `#L…` link names, while it is marked. */
  target: number | null;
}

/** The content pane. */
export class ContentView {
  readonly #dom: ContentDom;
  readonly #hooks: ContentHooks;
  readonly #prefs: Prefs;
  readonly #text: TextView;
  readonly #filtered: FilteredView;
  readonly #reader: LineReader;
  #shown: FileText = NOTHING;
  #lines = new Lines("");
  #filter: Filter = { kind: "none" };
  #target: number | null = null;
  /** The lines marked as changed (on screen, 0-based; sorted, disjoint) until the mark times out. */
  #changed: LineRange[] = [];
  #changedTimer: number | undefined;

  /** The toggles start as the reader left them (`prefs`). */
  constructor(dom: ContentDom, hooks: ContentHooks, prefs: Prefs) {
    this.#dom = dom;
    this.#hooks = hooks;
    this.#prefs = prefs;
    const reader = this.#reader = hooks.reader ?? new PlainReader();
    this.#text = new TextView(dom.pre, reader, dom.view);
    this.#filtered = new FilteredView(dom.filtered, dom.view, reader);
    this.#filtered.onBuild = () => {
      if (this.#changed.length > 0) this.#paintChanged();
    };
    dom.wrap.checked = prefs.flag("wrap");
    dom.numbers.checked = prefs.flag("numbers");
  }

  /** What is shown. */
  get shown(): FileText {
    return this.#shown;
  }

  /** Whether any text is shown (an error banner then says the last content stays). */
  get hasText(): boolean {
    return this.#shown.text !== "";
  }

  /** How many lines are shown (all of them, filtered or not). */
  get lineCount(): number {
    return this.#lines.length;
  }

  get state(): ContentState {
    return { wrap: this.#dom.wrap.checked, numbers: this.#dom.numbers.checked, target: this.#target };
  }

  /** Why line numbers make no links (null: they do): a link names a line of the file. */
  linksOff(): string | null {
    return noLinksReason(this.#shown.offset, this.#shown.dropped);
  }

  /**
   * Takes over the text the server's page shows: `first` as it came, `start`
   * the same cut to the page's bound. The server's chunks are what render()
   * would build: taken over as they are (no node rebuilt) unless some lines
   * were trimmed.
   */
  start(first: FileText, start: FileText): void {
    this.#applyToggles();
    this.#shown = start;
    this.#lines = new Lines(start.text);
    this.#reader.reset(this.#lines, start.offset);
    if (start !== first || !this.#text.adopt(start.text)) this.#text.render(start.text);
    this.#drawVisible();
    this.#hooks.shown(start);
    // A page that shows the last part of a log (tail mode) opens at its end, following it.
    if (start.offset > 0) this.#toBottom();
  }

  /** Shows a change, following the end only if the reader was there; `mark` marks what changed. */
  show(change: Shown, mark = true): void {
    const { view, below } = this.#dom;
    const follow = this.#atBottom();
    const top = view.scrollTop;
    const height = view.scrollHeight;
    const filtering = () => this.#filtering();
    let ranges: LineRange[] = [];
    if (change.kind === "replace") {
      const before = this.#lines.lines;
      this.#changed = []; // lines of the text replaced
      this.#lines = new Lines(change.held.text);
      this.#reader.reset(this.#lines, change.held.offset);
      this.#text.render(change.held.text);
      this.#drawVisible();
      if (mark && before.length > 0) ranges = changedLines(before, this.#lines.lines).ranges;
      if (filtering()) this.#runFilter();
    } else {
      const lines = this.#lines;
      const firstNew = lines.extend(change.added);
      this.#reader.extended(firstNew);
      this.#text.append(change.added);
      if (change.dropped) {
        // Lines leaving above the reader would pull the text they are reading
        // up: move the scroll position by the height that left.
        const droppedBefore = lines.base;
        lines.dropFront(change.dropped);
        const gone = lines.base - droppedBefore;
        this.#reader.dropped(gone, change.held.offset, !change.dropped.endsWith("\n"));
        this.#changed = shiftRanges(this.#changed, gone);
        const before = view.scrollHeight;
        this.#text.dropFront(change.dropped);
        if (filtering()) this.#runFilter();
        if (!follow) view.scrollTop = top - (before - view.scrollHeight);
        ranges = appendedLines(Math.max(0, firstNew - gone), lines.length);
      } else {
        if (filtering()) {
          const more = this.#reader.select(this.#re(), firstNew);
          this.#filtered.extend(more.from, more.hits);
        }
        ranges = appendedLines(firstNew, lines.length);
      }
      if (!mark) ranges = [];
    }
    this.#shown = change.held;
    this.#hooks.shown(change.held);
    if (filtering()) this.#count();
    if (change.kind === "replace") this.#paintTarget();
    this.#markChanged(ranges, change.kind === "extend");
    if (follow) {
      this.#toBottom();
      below.hidden = true;
    } else {
      if (change.kind === "replace") view.scrollTop = top;
      // Dropped lines can leave the height as it was: new text is below all the same.
      if (view.scrollHeight > height || (change.kind === "extend" && change.added !== "")) below.hidden = false;
    }
  }

  /** Shows only the lines `filter` keeps (all of them for none, or a bad one). */
  setFilter(filter: Filter): void {
    const follow = this.#atBottom();
    const was = this.#filtering();
    this.#filter = filter;
    this.#runFilter();
    if (follow) this.#toBottom();
    else if (was || this.#filtering()) this.#dom.view.scrollTop = 0;
  }

  /** What the reader shows besides the filter changed (levels, marked only): choose the lines again. */
  reselect(): void {
    this.setFilter(this.#filter);
  }

  /** How lines are drawn changed (JSON lines as fields or raw): draw the lines on screen again. */
  redraw(): void {
    this.#text.redraw();
    this.#filtered.redraw();
    this.#paintTarget();
    this.#paintChanged();
  }

  /** Draws line `index` (0-based, held) again wherever it is drawn. */
  redrawLine(index: number): void {
    this.#text.redrawLine(index);
    this.#filtered.redrawLine(index);
  }

  /** The element of held line `index` in the pane shown (drawn first if need be), or null when it is not shown. */
  lineElement(index: number): HTMLElement | null {
    return this.#filtering() ? this.#filtered.lineElement(index) : this.#text.lineElement(index);
  }

  /** Draws the chunk or block `el` of the pane shown, if it is one not drawn yet (the keyboard moved into it). */
  drawBlock(el: Element): void {
    if (!this.#text.drawChunk(el)) this.#filtered.buildBlock(el);
  }

  /** The wrap toggle changed. */
  wrapToggled(): void {
    this.#prefs.save("wrap", this.#dom.wrap.checked);
    const follow = this.#atBottom();
    this.#applyToggles();
    if (follow) this.#toBottom();
  }

  /** The line numbers toggle changed. */
  numbersToggled(): void {
    const numbers = this.#dom.numbers.checked;
    this.#prefs.save("numbers", numbers);
    const follow = this.#atBottom();
    this.#applyToggles();
    if (follow) this.#toBottom();
  }

  /** The pane scrolled: at the end, "new content below" has nothing more to say. */
  scrolled(): void {
    if (this.#atBottom()) this.#dom.below.hidden = true;
  }

  /** "New content below" was clicked. */
  belowClicked(): void {
    this.followEnd();
    this.focus();
  }

  /** Goes to the end and follows it (Resume does). */
  followEnd(): void {
    this.#toBottom();
    this.#dom.below.hidden = true;
  }

  /** A click in the pane: on a line's number (its left padding, drawn by ::before), links that line. */
  clicked(ev: MouseEvent): void {
    const line = (ev.target as Element).closest?.("[data-n]");
    if (!(line instanceof HTMLElement) || this.linksOff() !== null) return;
    // Without numbers, the content's gutter holds no number to click.
    if (!this.#dom.numbers.checked && !this.#filtering()) return;
    const gutter = parseFloat(getComputedStyle(line).paddingLeft);
    if (ev.clientX - line.getBoundingClientRect().left > gutter) return;
    const n = Number(line.dataset.n);
    const fromFilter = this.#filtering();
    this.#hooks.linked(n);
    this.goToLine(n, fromFilter);
  }

  /** Goes to the line a URL fragment names (`#L120`); anything else is not a line. */
  goToHash(hash: string): void {
    const n = parseLineHash(hash);
    if (n !== null) this.goToLine(n, true);
  }

  /** Shows and marks line `n` (a `#L…` link): in the whole file, numbered; `scroll` brings it into view. */
  goToLine(n: number, scroll: boolean): void {
    if (this.linksOff() !== null) return;
    this.#target = n;
    if (this.#filtering()) this.#hooks.clearFilter(); // the line in its context
    if (!this.#dom.numbers.checked) {
      // Numbered for this visit (not saved): a link names a line by its number.
      this.#dom.numbers.checked = true;
      this.#applyToggles();
    }
    this.#paintTarget();
    if (scroll) this.#scrollToLine(n);
  }

  /** Focuses the pane, so PageDown / End scroll the file at once. */
  focus(): void {
    this.#dom.view.focus({ preventScroll: true });
  }

  #atBottom(): boolean {
    const { view } = this.#dom;
    return isAtBottom(view.scrollTop, view.clientHeight, view.scrollHeight);
  }

  #toBottom(): void {
    const { view } = this.#dom;
    view.scrollTop = view.scrollHeight;
    // Chunks that come into view are laid out for real on the next frame and
    // may be taller than estimated (wrapped lines): stick to the end again.
    requestAnimationFrame(() => view.scrollTop = view.scrollHeight);
  }

  /** Whether the filtered pane shows (a filter, or the reader leaving lines out). */
  #filtering(): boolean {
    return this.#filter.kind === "ok" || this.#reader.selecting;
  }

  #re(): RegExp | null {
    return this.#filter.kind === "ok" ? this.#filter.re : null;
  }

  /** Draws, before the next frame, the chunks it would show undrawn (the observer would draw them a frame late). */
  #drawVisible(): void {
    requestAnimationFrame(() => this.#text.drawVisible(this.#dom.view));
  }

  #applyToggles(): void {
    this.#dom.body.classList.toggle("wrap", this.#dom.wrap.checked);
    this.#dom.body.classList.toggle("numbers", this.#dom.numbers.checked);
  }

  /** Applies the filter (and what else the reader leaves out) to the lines held. */
  #runFilter(): void {
    const { pre, filtered } = this.#dom;
    if (!this.#filtering()) {
      this.#filtered.clear();
      filtered.hidden = true;
      pre.hidden = false;
      this.#paintChanged();
      this.#drawVisible();
      return;
    }
    const lines = this.#lines;
    const { hits } = this.#reader.select(this.#re());
    this.#filtered.show(lines.base, hits, this.#re());
    this.#filtered.setTarget(this.#target);
    pre.hidden = true;
    filtered.hidden = false;
    this.#count();
    this.#paintChanged();
  }

  #count(): void {
    this.#hooks.counted(this.#filtered.hits.length, this.#lines.length);
  }

  /** Marks the linked line where it is shown. */
  #paintTarget(): void {
    for (const el of this.#dom.pre.querySelectorAll(".target")) el.classList.remove("target");
    if (this.#target !== null) {
      this.#text.lineElement(this.#target - 1 - this.#text.base)?.classList.add("target");
    }
    this.#filtered.setTarget(this.#target);
  }

  /** Scrolls line `n` into view, laying out its chunk first (chunks off screen are not laid out). */
  #scrollToLine(n: number): void {
    const index = n - 1 - this.#text.base;
    this.#text.chunkOf(index)?.scrollIntoView({ block: "start" });
    requestAnimationFrame(() => this.#text.lineElement(index)?.scrollIntoView({ block: "center" }));
  }

  /**
   * Marks the changed lines in the pane shown: in the text, or, with a filter
   * on, on the matching lines among them (the filtered view builds its lines
   * as they near the screen, and calls this again for each block it builds).
   */
  #paintChanged(): void {
    // The CSS Custom Highlight API marks text without touching a node; where
    // the browser lacks it, lines are simply not marked.
    if (typeof Highlight === "undefined" || !("highlights" in CSS)) return;
    const changed = this.#changed;
    const made = changed.length === 0
      ? []
      : this.#filtering()
      ? this.#filtered.lineRanges(changed)
      : changed.map(([a, b]) => this.#text.lineRange(a, b)).filter((r): r is Range => r !== null);
    if (made.length === 0) {
      CSS.highlights.delete("fw-changed");
      delete this.#dom.body.dataset.changed;
      return;
    }
    const hl = new Highlight();
    for (const r of made) hl.add(r);
    CSS.highlights.set("fw-changed", hl);
    this.#dom.body.dataset.changed = String(made.length);
  }

  /** Marks `ranges` (lines on screen) as changed for {@link CHANGED_MS}; `add` keeps the marks already up. */
  #markChanged(ranges: LineRange[], add: boolean): void {
    this.#changed = mergeRanges(add ? this.#changed : [], ranges);
    this.#paintChanged();
    if (ranges.length === 0 && this.#changed.length > 0) return; // the marks up keep their time
    clearTimeout(this.#changedTimer);
    if (this.#changed.length === 0) return;
    this.#changedTimer = setTimeout(() => {
      this.#changed = [];
      this.#paintChanged();
    }, CHANGED_MS);
  }
}
