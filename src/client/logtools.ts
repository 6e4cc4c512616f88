/**
 * The log bar under the header (docs/page.md#reading-real-logs): a toggle
 * per level with how many entries it has, "Marked" (only marked lines) with
 * how many there are, and, for a file of JSON lines or logfmt, "Fields"
 * (each such line as `time LEVEL message key=value …`, or as written). It
 * holds what the reader asked for; the content pane follows through
 * {@link LogToolsHooks}.
 * @module
 */
import type { El } from "./dom.ts";
import type { Format } from "../shared/structured.ts";
import { LEVEL_KEYS, type LevelKey } from "./loglines.ts";

/** Counts as the bar shows them ("1,234"); one formatter, since each toLocaleString call builds its own. */
const NUMBER = new Intl.NumberFormat("en-US");

/** The bar's elements (ids and classes as src/page.ts writes them). */
export interface LogToolsDom {
  /** `#logbar`, shown once the script runs. */
  bar: El;
  /** Per level: its toggle (`aria-pressed`: shown) and the count in it. */
  levels: ReadonlyMap<LevelKey, { button: El; count: El }>;
  /** `#marked-only` (`aria-pressed`) and its count. */
  marked: El;
  markCount: El;
  /** `#fields` (`aria-pressed`), shown for a structured file. */
  fields: El;
}

/** What the bar reads and sets on the page's reader (a {@link LogView} is one). */
export interface LogState {
  readonly levels: ReadonlySet<LevelKey> | null;
  setLevels(levels: ReadonlySet<LevelKey> | null): void;
  readonly markedOnly: boolean;
  setMarkedOnly(on: boolean): void;
  fields: boolean;
  readonly format: Format | null;
  readonly markCount: number;
  readonly facts: { counts(): Record<LevelKey, number> };
  /** Whether entries of `key` were seen, though none are counted now (the large-file view's window moved on). */
  seen?(key: LevelKey): boolean;
}

/** What the bar asks of the rest of the page. */
export interface LogToolsHooks {
  /** Which lines show changed (a level, marked only): choose them again. */
  select(): void;
  /** How lines are drawn changed (fields or raw): draw them again. */
  redraw(): void;
  /** The reader pressed Fields: remember it. */
  fieldsChosen(on: boolean): void;
}

/** The bar's state as plain data: what a URL carries. */
export interface LogToolsState {
  /** The levels shown, in {@link LEVEL_KEYS}' order; null: all of them. */
  levels: LevelKey[] | null;
  markedOnly: boolean;
  fields: boolean;
}

/** Level toggles, Marked, Fields. */
export class LogTools {
  readonly #dom: LogToolsDom;
  readonly #log: LogState;
  readonly #hooks: LogToolsHooks;
  #format: Format | null = null;
  /** What the last paint showed. */
  #painted = "";

  constructor(log: LogState, dom: LogToolsDom, hooks: LogToolsHooks) {
    this.#dom = dom;
    this.#log = log;
    this.#hooks = hooks;
    this.#format = log.format;
  }

  get state(): LogToolsState {
    const shown = this.#log.levels;
    return {
      levels: shown === null ? null : LEVEL_KEYS.filter((k) => shown.has(k)),
      markedOnly: this.#log.markedOnly,
      fields: this.#log.fields,
    };
  }

  /** A level's toggle was pressed: show or hide its entries. */
  toggleLevel(key: LevelKey): void {
    const shown = new Set(this.#log.levels ?? LEVEL_KEYS);
    if (!shown.delete(key)) shown.add(key);
    this.setLevels([...shown]);
  }

  /** Shows the entries of `levels` only (null, or every level: all). */
  setLevels(levels: readonly LevelKey[] | null): void {
    const set = levels === null ? null : new Set(levels.filter((k) => LEVEL_KEYS.includes(k)));
    this.#log.setLevels(
      set === null || set.size === LEVEL_KEYS.length ? null : set,
    );
    this.#hooks.select();
    this.paint();
  }

  /** Shows every line again (a line is to be seen in its context): all levels, not only marked ones. */
  showAll(): void {
    if (this.#log.levels === null && !this.#log.markedOnly) return;
    this.#log.setLevels(null);
    this.#log.setMarkedOnly(false);
    this.#hooks.select();
    this.paint();
  }

  /** "Marked" was pressed. */
  toggleMarked(): void {
    this.setMarkedOnly(!this.#log.markedOnly);
  }

  /** Shows only entries with a marked line, or all. */
  setMarkedOnly(on: boolean): void {
    this.#log.setMarkedOnly(on);
    this.#hooks.select();
    this.paint();
  }

  /** "Fields" was pressed. */
  toggleFields(): void {
    this.setFields(!this.#log.fields);
    this.#hooks.fieldsChosen(this.#log.fields);
  }

  /** Shows structured lines as fields, or as written. */
  setFields(on: boolean): void {
    if (this.#log.fields === on) return;
    this.#log.fields = on;
    this.#hooks.redraw();
    this.paint();
  }

  /**
   * Paints the counts, which toggles show (a level with entries, or one
   * hidden), what is pressed, and Fields; when the file's format became
   * known (a file that was empty), draws the lines again.
   */
  paint(): void {
    const d = this.#dom;
    const counts = this.#log.facts.counts();
    const shown = this.#log.levels;
    const format = this.#log.format;
    // Painted after every slice of the background work and every append: only what changed is written.
    const key = JSON.stringify([
      counts,
      shown && [...shown],
      this.#log.markedOnly,
      this.#log.markCount,
      format,
      this.#log.fields,
    ]);
    if (key === this.#painted) return;
    this.#painted = key;
    for (const [key, { button, count }] of d.levels) {
      const n = counts[key];
      const on = shown === null || shown.has(key);
      button.hidden = n === 0 && on && !this.#log.seen?.(key);
      count.textContent = NUMBER.format(n);
      button.setAttribute("aria-pressed", String(on));
    }
    d.marked.setAttribute("aria-pressed", String(this.#log.markedOnly));
    d.markCount.textContent = NUMBER.format(this.#log.markCount);
    d.fields.hidden = format === null;
    d.fields.setAttribute("aria-pressed", String(this.#log.fields));
    d.fields.title = format === "logfmt"
      ? "Show logfmt lines as time LEVEL message key=value"
      : "Show JSON lines as time LEVEL message key=value";
    if (format !== this.#format) {
      this.#format = format;
      this.#hooks.redraw();
    }
  }
}
