/**
 * Reading real logs in the large-file view (docs/page.md#reading-real-logs):
 * what {@link LogView} does for a page that holds the whole text, done for
 * the window of lines the large view holds (src/client/bigview.ts), which
 * is all the page ever has of such a file.
 *
 * Each line is drawn alone as it arrives ({@link WindowLog.line}: its own
 * level, ANSI colours, links, a JSON line's fields and button, its mark);
 * then, whenever the window changes, {@link WindowLog.window} reads its lines
 * in order for what needs their neighbours: which continue the entry above
 * (their entry's level, the fold button on its first line), and which an
 * entry's mark keeps. Levels hidden and "marked only" are classes on the
 * pane, so hiding lines rebuilds nothing; hidden lines keep their place in
 * the flow at no height (the view measures its lines by their offsets).
 *
 * So in this view levels, marks and entries are those of the lines near the
 * screen: the counts are the window's, and an entry whose first line is
 * above the window starts at the window's first line. The server's search
 * takes the levels shown as `&level=` (src/scan/search.ts).
 * @module
 */
import { hasEscapes, stripAnsi } from "../shared/ansi.ts";
import { detectEntryContext, EntryScanner } from "../shared/entries.ts";
import { detectLevel, type Level, LEVELS } from "../shared/levels.ts";
import { detectFormat, type Format, FORMAT_SAMPLE, parseLine, pretty, type Structured } from "../shared/structured.ts";
import { appendPretty, fillLogLine, toggleButton, type WindowDraw, type WindowLine } from "./draw.ts";
import { LEVEL_KEYS, type LevelKey } from "./loglines.ts";
import type { Marks } from "./marks.ts";

/** What the window reader tells the page. */
export interface WindowHooks {
  /** The window's counts, or what is seen, changed: the log bar paints them. */
  changed(): void;
  /** How lines are drawn changed (fields, a format found): the view draws its lines again. */
  redraw(): void;
}

/** What is read of a line once, kept as long as the line object is. */
interface Facts {
  plain: string;
  level: Level | null;
}

/** The large-file view's line reader. */
export class WindowLog implements WindowDraw {
  readonly #marks: Marks;
  readonly #pane: HTMLElement;
  readonly #hooks: WindowHooks;
  readonly #facts = new WeakMap<WindowLine, Facts>();
  #levels: ReadonlySet<LevelKey> | null = null;
  #markedOnly = false;
  /** Entries folded and lines opened, by the byte their (first) line starts at. */
  readonly #folded = new Set<number>();
  readonly #opened = new Set<number>();
  #format: Format | null = null;
  /** The format was decided on fewer lines than its sample. */
  #provisional = true;
  #counts = Object.fromEntries(LEVEL_KEYS.map((k) => [k, 0])) as Record<LevelKey, number>;
  /** Levels any window had: their toggles stay when the window has none of them. */
  readonly #seen = new Set<LevelKey>();
  #win: readonly WindowLine[] = [];
  #els: readonly HTMLElement[] = [];
  /** JSON and logfmt lines as fields. */
  fields = true;

  /** `pane` is `#content`: the levels hidden and "marked only" are its classes. */
  constructor(marks: Marks, pane: HTMLElement, hooks: WindowHooks) {
    this.#marks = marks;
    this.#pane = pane;
    this.#hooks = hooks;
  }

  get levels(): ReadonlySet<LevelKey> | null {
    return this.#levels;
  }

  /** Hides the lines of the levels not in `levels` (null: shows all). */
  setLevels(levels: ReadonlySet<LevelKey> | null): void {
    this.#levels = levels;
    for (const k of LEVEL_KEYS) this.#pane.classList.toggle(`hide-${k}`, levels !== null && !levels.has(k));
  }

  get markedOnly(): boolean {
    return this.#markedOnly;
  }

  setMarkedOnly(on: boolean): void {
    this.#markedOnly = on;
    this.#pane.classList.toggle("marked-only", on);
  }

  get format(): Format | null {
    return this.#format;
  }

  get markCount(): number {
    return this.#marks.size;
  }

  /** The counts the log bar shows: the window's entries per level. */
  readonly facts = { counts: (): Record<LevelKey, number> => ({ ...this.#counts }) };

  /** Whether a window ever had entries of `key` (its toggle stays). */
  seen(key: LevelKey): boolean {
    return this.#seen.has(key);
  }

  /**
   * The level `&level=` asks the server for: the least severe level shown
   * (the server keeps that level and worse, and no line that states none),
   * or undefined when every level is shown or none is.
   */
  searchLevel(): Level | undefined {
    const shown = this.#levels;
    if (shown === null) return undefined;
    return [...LEVELS].reverse().find((l) => shown.has(l));
  }

  // ---- drawing ---------------------------------------------------------------

  line(el: HTMLElement, line: WindowLine, re: RegExp | null): void {
    const f = this.#read(line);
    el.dataset.offset = String(line.offset);
    el.classList.add(`lv-${f.level ?? "none"}`);
    if (this.#marks.size > 0 && this.#marks.has(line.offset)) el.classList.add("marked");
    const s = this.#structured(f.plain);
    const open = s !== null && this.#opened.has(line.offset);
    if (s) {
      const b = toggleButton(el, "open", open, `${open ? "Close" : "Open"} the line as JSON`);
      if (open) b.setAttribute("aria-controls", `pretty-o${line.offset}`);
    }
    fillLogLine(el, line.text, s, this.fields, re);
    if (open) appendPretty(el, `pretty-o${line.offset}`, "The line as JSON", pretty(f.plain) ?? "");
  }

  /**
   * The window is `lines`, drawn as `els`: reads its entries in order and
   * sets on each line its entry's level, whether it continues it (folded or
   * not), the fold button of an entry's first line, whether a mark keeps its
   * entry, and counts the window's entries per level.
   */
  window(lines: readonly WindowLine[], els: readonly HTMLElement[]): void {
    this.#win = lines;
    this.#els = els;
    const plains = lines.map((l) => this.#read(l).plain);
    this.#decideFormat(plains);
    const scanner = new EntryScanner(detectEntryContext(plains.slice(0, 200)));
    const counts = Object.fromEntries(LEVEL_KEYS.map((k) => [k, 0])) as Record<LevelKey, number>;
    let head = 0;
    const heads: number[] = [];
    for (let i = 0; i < lines.length; i++) {
      const cont = scanner.push(plains[i]!) && i > 0;
      if (!cont) head = i;
      heads.push(head);
    }
    for (let h = 0; h < lines.length;) {
      let end = h + 1;
      while (end < lines.length && heads[end] === h) end++;
      const level = this.#read(lines[h]!).level;
      const key: LevelKey = level ?? "other";
      counts[key]++;
      this.#seen.add(key);
      const folded = this.#folded.has(lines[h]!.offset);
      let marked = false;
      for (let i = h; i < end && !marked; i++) marked = this.#marks.size > 0 && this.#marks.has(lines[i]!.offset);
      for (let i = h; i < end; i++) {
        const el = els[i]!;
        for (const c of [...el.classList]) if (c.startsWith("lv-")) el.classList.remove(c);
        el.classList.add(`lv-${level ?? "none"}`);
        el.classList.toggle("cont", i > h);
        el.classList.toggle("folded", i > h && folded);
        el.classList.toggle("in-marked", marked);
      }
      this.#foldButton(els[h]!, end - h - 1, folded);
      h = end;
    }
    this.#counts = counts;
    this.#hooks.changed();
  }

  // ---- what the keyboard and clicks do ---------------------------------------

  /** The window's line drawn as `el`. */
  lineOf(el: HTMLElement): WindowLine | null {
    const i = this.#els.indexOf(el);
    return i < 0 ? null : this.#win[i] ?? null;
  }

  /** Whether `el`'s line is a JSON or logfmt line (it opens). */
  structured(el: HTMLElement): boolean {
    const line = this.lineOf(el);
    return line !== null && this.#structured(this.#read(line).plain) !== null;
  }

  /** Marks or unmarks `el`'s line. */
  toggleMark(el: HTMLElement): void {
    const line = this.lineOf(el);
    if (!line) return;
    const on = this.#marks.toggle(line.offset);
    el.classList.toggle("marked", on);
    this.window(this.#win, this.#els);
  }

  /** Folds or unfolds the entry `el` is in; false when it has no lines to fold. */
  toggleFold(el: HTMLElement): boolean {
    let i = this.#els.indexOf(el);
    while (i > 0 && this.#els[i]!.classList.contains("cont")) i--;
    const head = this.#win[i];
    if (!head || !this.#els[i + 1]?.classList.contains("cont")) return false;
    if (!this.#folded.delete(head.offset)) this.#folded.add(head.offset);
    this.window(this.#win, this.#els);
    return true;
  }

  /** Opens `el`'s line pretty-printed, or closes it. */
  toggleOpen(el: HTMLElement): void {
    const line = this.lineOf(el);
    if (!line || !this.structured(el)) return;
    if (!this.#opened.delete(line.offset)) this.#opened.add(line.offset);
    const re = null;
    el.replaceChildren();
    this.line(el, line, re);
    this.window(this.#win, this.#els);
  }

  #read(line: WindowLine): Facts {
    let f = this.#facts.get(line);
    if (!f) {
      const plain = hasEscapes(line.text) ? stripAnsi(line.text) : line.text;
      f = { plain, level: detectLevel(plain) };
      this.#facts.set(line, f);
    }
    return f;
  }

  #structured(plain: string): Structured | null {
    return this.#format === null ? null : parseLine(plain, this.#format);
  }

  /** Decides the format from the first window (again while it was decided on fewer lines than the sample). */
  #decideFormat(plains: readonly string[]): void {
    if (!this.#provisional) return;
    const format = detectFormat(plains);
    this.#provisional = plains.filter((p) => p.trim() !== "").length < FORMAT_SAMPLE;
    if (format === this.#format) return;
    this.#format = format;
    this.#hooks.redraw();
  }

  /** An entry's first line: a fold button and "… N more" when lines continue it, none otherwise. */
  #foldButton(el: HTMLElement, more: number, folded: boolean): void {
    let b = el.querySelector<HTMLButtonElement>(":scope > button.fold");
    let hint = el.querySelector<HTMLElement>(":scope > .more");
    el.classList.toggle("folded-head", more > 0 && folded);
    if (more === 0) {
      b?.remove();
      hint?.remove();
      return;
    }
    const lines = `${more} ${more === 1 ? "line" : "lines"}`;
    const label = folded ? `Unfold the entry's ${lines}` : `Fold the ${lines} under this line`;
    if (!b) {
      b = toggleButton(el, "fold", !folded, label);
      el.prepend(b);
    }
    b.setAttribute("aria-expanded", String(!folded));
    b.setAttribute("aria-label", label);
    if (!hint) {
      hint = el.ownerDocument.createElement("span");
      hint.className = "more";
      const pretty = el.querySelector(":scope > .pretty");
      if (pretty) pretty.before(hint);
      else el.append(hint);
    }
    hint.dataset.more = String(more);
  }
}
