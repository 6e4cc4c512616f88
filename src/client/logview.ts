/**
 * How the page reads a log (docs/page.md#reading-real-logs): the
 * {@link LineReader} its views draw lines with and choose lines by.
 *
 * A line is drawn as `<span class="ln lv-error [cont] [marked] …">`: its
 * entry's level as a class (a colour and a bar), ANSI colours as classes,
 * http(s) URLs as links, filter matches marked; an entry's first line gets a
 * fold button when lines continue it, a JSON or logfmt line a button that
 * opens it pretty-printed; a marked line a dot in its gutter. Buttons hold
 * no text (their glyphs are CSS), so what is copied is the line's text.
 *
 * What shows: every line, unless a level is hidden or only marked lines are
 * asked for ({@link LogView.selecting}); then, as for the filter, whole
 * entries at a time ({@link LogLines.select}). Folding hides an entry's
 * continuation lines where they are drawn.
 * @module
 */
import { type Format, parseLine, pretty, type Structured } from "../shared/structured.ts";
import type { Lines } from "./lines.ts";
import { type LevelKey, LogLines } from "./loglines.ts";
import type { Marks } from "./marks.ts";
import { appendPretty, fillLogLine, type LineReader, toggleButton } from "./draw.ts";
import { lineTime } from "./viewstate.ts";

/** What the reader asks of the page. */
export interface LogHooks {
  /** Held line `index` must be drawn again (it gained a continuation, a mark, a fold). */
  redrawLine(index: number): void;
  /** Every line drawn must be drawn again (what continues an entry changed). */
  redraw(): void;
}

/** The page's line reader: levels, colours, entries, links, marks, JSON lines. */
export class LogView implements LineReader {
  /** What is known of each line held. */
  readonly facts = new LogLines();
  readonly #marks: Marks;
  readonly #hooks: LogHooks;
  #lines: Lines | null = null;
  /** Entries folded, by their first line's number. */
  readonly #folded = new Set<number>();
  /** Lines opened pretty-printed, by number. */
  readonly #opened = new Set<number>();
  /** Levels shown (null: all). */
  #levels: ReadonlySet<LevelKey> | null = null;
  #markedOnly = false;
  /** Structured lines as `time level message key=value …` (else as they are). */
  fields = false;

  constructor(marks: Marks, hooks: LogHooks) {
    this.#marks = marks;
    this.#hooks = hooks;
  }

  /** The lines held. */
  get lines(): Lines | null {
    return this.#lines;
  }

  get selecting(): boolean {
    return this.#levels !== null || this.#markedOnly;
  }

  /** The levels shown (null: all of them). */
  get levels(): ReadonlySet<LevelKey> | null {
    return this.#levels;
  }

  /** Shows only entries of `levels` (null: all). */
  setLevels(levels: ReadonlySet<LevelKey> | null): void {
    this.#levels = levels;
  }

  get markedOnly(): boolean {
    return this.#markedOnly;
  }

  /** Shows only entries with a marked line, or every line. */
  setMarkedOnly(on: boolean): void {
    this.#markedOnly = on;
  }

  /** The file's format (JSON lines, logfmt), or null. */
  get format(): Format | null {
    return this.facts.format;
  }

  /** How many lines are marked (in this file, held or not). */
  get markCount(): number {
    return this.#marks.size;
  }

  reset(lines: Lines, offset: number): void {
    this.#lines = lines;
    this.facts.reset(lines.lines, offset);
    // Numbers now name the lines of another text.
    this.#folded.clear();
    this.#opened.clear();
  }

  extended(firstChanged: number): void {
    const generation = this.facts.generation;
    this.facts.extended(firstChanged);
    // A young file's entries were read again (it turned out to be stamped, or not).
    if (this.facts.generation !== generation) return this.#hooks.redraw();
    // A line that continues an entry above gives its first line a fold button (or a new count).
    if (firstChanged >= this.facts.length) return;
    const head = this.facts.head(firstChanged);
    if (head < firstChanged) this.#hooks.redrawLine(head);
  }

  dropped(count: number, offset: number, cut: boolean): void {
    this.facts.dropped(count, offset, cut);
  }

  select(re: RegExp | null, from = 0): { from: number; hits: number[] } {
    const marked = this.#markedOnly ? (i: number) => this.#marks.has(this.facts.offsetOf(i)) : null;
    return this.facts.select({ re, levels: this.#levels, marked }, from);
  }

  /** Line `index`'s number as the views show it (the file's, when the page holds it from its start). */
  numberOf(index: number): number {
    return (this.#lines?.base ?? 0) + index + 1;
  }

  /** Held line `index`, read in the file's format (null: not structured). */
  structured(index: number): Structured | null {
    const format = this.facts.format;
    return format === null ? null : parseLine(this.facts.plain(index), format);
  }

  /**
   * The first entry stamped at or after `ms` (since the epoch): its first
   * line's index, or -1 when no entry is (or none has a time the page reads:
   * RFC 3339 at the start, or a JSON or logfmt time).
   */
  findTime(ms: number): number {
    const n = this.#lines?.length ?? 0;
    for (let i = 0; i < n; i++) {
      if (this.facts.continues(i)) continue;
      const t = lineTime(this.facts.plain(i), this.structured(i)?.time ?? null);
      if (t !== null && t >= ms) return i;
    }
    return -1;
  }

  /** Whether line `index` is marked. */
  isMarked(index: number): boolean {
    return this.#marks.size > 0 && this.#marks.has(this.facts.offsetOf(index));
  }

  /** Marks or unmarks line `index`; true when it is marked now. */
  toggleMark(index: number): boolean {
    const on = this.#marks.toggle(this.facts.offsetOf(index));
    this.#hooks.redrawLine(index);
    return on;
  }

  /** Folds or unfolds the entry holding line `index`; returns its first line, or -1 when it has no lines to fold. */
  toggleFold(index: number): number {
    const head = this.facts.head(index);
    const end = this.facts.entryEnd(head);
    if (end <= head + 1) return -1;
    const n = this.numberOf(head);
    if (!this.#folded.delete(n)) this.#folded.add(n);
    for (let i = head; i < end; i++) this.#hooks.redrawLine(i);
    return head;
  }

  /** Whether the entry starting at `head` is folded. */
  isFolded(head: number): boolean {
    return this.#folded.has(this.numberOf(head));
  }

  /** Opens line `index` pretty-printed, or closes it; false when it is not a structured line. */
  toggleOpen(index: number): boolean {
    if (!this.structured(index)) return false;
    const n = this.numberOf(index);
    if (!this.#opened.delete(n)) this.#opened.add(n);
    this.#hooks.redrawLine(index);
    return true;
  }

  draw(el: HTMLElement, index: number, re: RegExp | null): void {
    const lines = this.#lines;
    if (!lines) return;
    const f = this.facts;
    const raw = lines.lines[index] ?? "";
    const n = lines.base + index + 1;
    const head = f.head(index);
    const level = f.ownLevel(head);
    if (level !== null) el.classList.add(`lv-${level}`);
    let more = 0;
    if (head < index) {
      el.classList.add("cont");
      if (this.#folded.has(lines.base + head + 1)) el.classList.add("folded");
    } else {
      more = f.entryEnd(index) - index - 1;
      if (more > 0) {
        const folded = this.#folded.has(n);
        if (folded) el.classList.add("folded-head");
        const lines = `${more} ${more === 1 ? "line" : "lines"}`;
        toggleButton(
          el,
          "fold",
          !folded,
          folded ? `Unfold ${lines} of line ${n}'s entry` : `Fold the ${lines} under line ${n}`,
        );
      }
    }
    if (this.isMarked(index)) el.classList.add("marked");
    const s = this.structured(index);
    const open = s !== null && this.#opened.has(n);
    if (s) {
      const b = toggleButton(
        el,
        "open",
        open,
        `${open ? "Close" : "Open"} line ${n} as JSON`,
      );
      if (open) b.setAttribute("aria-controls", `pretty-${n}`);
    }
    fillLogLine(el, raw, s, this.fields, re);
    if (more > 0) {
      // The fold's "… N more lines", drawn by CSS from the attribute: not part of the text.
      const hint = el.ownerDocument.createElement("span");
      hint.className = "more";
      hint.dataset.more = String(more);
      el.append(hint);
    }
    el.append("\n");
    if (open) appendPretty(el, `pretty-${n}`, `Line ${n} as JSON`, (pretty(f.plain(index)) ?? "") + "\n");
  }
}
