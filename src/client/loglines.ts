/**
 * What the page knows about each line it holds beyond its text: the level it
 * states, whether it continues the entry above it (a stack trace under its
 * log line), its text without escapes, and the byte in the file where it
 * starts; and, for the file, its format (JSON lines, logfmt) and what marks a
 * continuation in it. Pure: the views draw from it, the level toggles count
 * with it, and {@link LogLines.select} decides which lines a view shows.
 *
 * Levels of 200k lines take a few hundred milliseconds, more than a page may
 * spend before it answers a key, so the page computes them in slices after it
 * has shown the text ({@link LogLines.work}); a line drawn before its slice
 * ran computes its own, and a question that needs them all (a level toggled
 * off) finishes the job first. Entries and plain text come first (the filter
 * needs them) and cost a tenth of that.
 * @module
 */
import { hasEscapes, stripAnsi } from "../shared/ansi.ts";
import {
  DEFAULT_CONTEXT,
  detectEntryContext,
  ENTRY_SAMPLE,
  type EntryContext,
  EntryScanner,
} from "../shared/entries.ts";
import { detectLevel, type Level, LEVELS } from "../shared/levels.ts";
import { detectFormat, type Format, FORMAT_SAMPLE } from "../shared/structured.ts";
import { utf8Length } from "./protocol.ts";

/** What the level toggles sort entries into: the six levels, and `other` for an entry that states none. */
export type LevelKey = Level | "other";

/** Every {@link LevelKey}, worst first, `other` last. */
export const LEVEL_KEYS: readonly LevelKey[] = Object.freeze(
  [...LEVELS, "other"] as LevelKey[],
);

/** Per line: bits 0–2 the level's code (0 none, 1 trace … 6 fatal, 7 not computed yet). */
const LEVEL_BITS = 7;
const UNKNOWN = 7;
/** The line continues the entry above. */
const CONT = 8;
/** The line has escapes: its plain text differs from it. */
const ESCAPED = 16;

const CODE_LEVEL: readonly (Level | null)[] = [
  null,
  "trace",
  "debug",
  "info",
  "warn",
  "error",
  "fatal",
];

function codeOf(level: Level | null): number {
  return level === null ? 0 : CODE_LEVEL.indexOf(level);
}

/** Which lines a view shows. Each part left out (null) keeps every line. */
export interface Selection {
  /** Keep entries where this (global) expression matches one of their lines' plain text. */
  re: RegExp | null;
  /** Keep entries whose level (their first line's) is one of these. */
  levels: ReadonlySet<LevelKey> | null;
  /** Keep entries with a line for which this is true (the marked lines). */
  marked: ((index: number) => boolean) | null;
}

/** Lines per step of the background work between looks at the clock. */
const STEP = 2000;

/**
 * The facts about the lines a view holds, kept in step with them: {@link
 * reset} with a new text, {@link extended} when lines were added (and the
 * open last line grew), {@link dropped} when the oldest left. Indexes are
 * into the same array the view holds (0 = its first line).
 * @example
 * ```ts
 * const facts = new LogLines();
 * facts.reset(["ERROR x", "  at a.b(C.java:1)", "INFO y"], 0);
 * facts.select({ re: /a\.b/g, levels: null, marked: null }).hits; // [0, 1]: the whole entry
 * ```
 */
export class LogLines {
  #lines: readonly string[] = [];
  #flags = new Uint8Array(0);
  #plain: (string | undefined)[] = [];
  /** Byte in the file where each line starts, for lines before {@link #offsetsDone}. */
  #offsets = new Float64Array(0);
  #fileOffset = 0;
  #entriesDone = 0;
  #levelsDone = 0;
  #offsetsDone = 0;
  #scanner = new EntryScanner(DEFAULT_CONTEXT);
  /** The scanner as it was before it read the last line, which may still grow (an open line). */
  #before: { at: number; scanner: EntryScanner } | null = null;
  /** Entries per level code (their first line's level), among the lines whose level is computed. */
  #counts = new Array<number>(7).fill(0);
  /** The context and format were decided on fewer lines than their samples: decide again as lines come. */
  #provisional = true;
  context: EntryContext = DEFAULT_CONTEXT;
  format: Format | null = null;
  /** Counts the times the facts started over (a new text, or a young file's context changed). */
  generation = 0;

  /** How many lines there are. */
  get length(): number {
    return this.#lines.length;
  }

  /** Whether every line's level is computed (the counts are final). */
  get complete(): boolean {
    return this.#levelsDone >= this.#lines.length;
  }

  /** Starts over with `lines` (held by reference: the view grows the same array), the first starting at byte `fileOffset`. */
  reset(lines: readonly string[], fileOffset: number): void {
    this.generation++;
    this.#lines = lines;
    this.#fileOffset = fileOffset;
    this.#flags = new Uint8Array(Math.max(64, lines.length * 1.25));
    this.#offsets = new Float64Array(this.#flags.length);
    this.#plain = [];
    this.#entriesDone = this.#levelsDone = this.#offsetsDone = 0;
    this.#counts.fill(0);
    this.#decide();
    this.#scanner = new EntryScanner(this.context);
    this.#before = null;
  }

  /**
   * Lines from `firstChanged` on are new, or changed (the open last line
   * grew). What was known of them is forgotten; when the background work had
   * caught up, the new lines are read at once (an append is a few lines).
   */
  extended(firstChanged: number): void {
    const caughtUp = this.#levelsDone >= firstChanged;
    this.#grow(this.#lines.length);
    if (this.#provisional) {
      const was = this.context;
      this.#decide();
      if (
        was.stamped !== this.context.stamped ||
        was.indent !== this.context.indent
      ) {
        // What continues an entry changed: read them again (a file this young is small).
        this.reset(this.#lines, this.#fileOffset);
        return;
      }
    }
    this.#forget(firstChanged);
    if (caughtUp) this.#levels(this.#lines.length);
  }

  /** The first `count` lines left; the first line left starts at byte `fileOffset` (a line cut inside: start over). */
  dropped(count: number, fileOffset: number, cut: boolean): void {
    if (cut || count >= this.#entriesDone) {
      this.reset(this.#lines, fileOffset);
      return;
    }
    for (let i = 0; i < Math.min(count, this.#levelsDone); i++) {
      if (!(this.#flags[i]! & CONT)) {
        this.#counts[this.#flags[i]! & LEVEL_BITS]!--;
      }
    }
    this.#flags.copyWithin(0, count);
    this.#offsets.copyWithin(0, count);
    this.#plain.splice(0, count);
    this.#entriesDone -= count;
    this.#levelsDone = Math.max(0, this.#levelsDone - count);
    this.#offsetsDone = Math.max(0, this.#offsetsDone - count);
    if (this.#before) this.#before.at -= count;
    this.#fileOffset = fileOffset;
    // A continuation whose first line left starts an entry now.
    if (this.#flags[0]! & CONT) {
      this.#flags[0]! &= ~CONT;
      if (this.#levelsDone > 0) this.#counts[this.#flags[0]! & LEVEL_BITS]!++;
    }
  }

  /**
   * Does up to `budgetMs` of the background work (entries, then levels);
   * true while there is more. `now` is the clock. Byte offsets are not part
   * of it: only marks need them, and they are computed when first asked for.
   */
  work(budgetMs: number, now: () => number = () => performance.now()): boolean {
    const end = now() + budgetMs;
    const n = this.#lines.length;
    while (now() < end) {
      if (this.#levelsDone < n) this.#levels(Math.min(n, this.#levelsDone + STEP));
      else return false;
    }
    return !this.complete;
  }

  /** Finishes all the work now. */
  finish(): void {
    this.#levels(this.#lines.length);
  }

  /** Line `i`'s text without escapes (what is shown, filtered and copied). */
  plain(i: number): string {
    const line = this.#lines[i] ?? "";
    if (i >= this.#entriesDone) {
      return hasEscapes(line) ? stripAnsi(line) : line;
    }
    return this.#flags[i]! & ESCAPED ? (this.#plain[i] ??= stripAnsi(line)) : line;
  }

  /** The level line `i` states itself (null: none). */
  ownLevel(i: number): Level | null {
    if (i < this.#levelsDone) return CODE_LEVEL[this.#flags[i]! & LEVEL_BITS]!;
    return i < this.#lines.length ? detectLevel(this.plain(i)) : null;
  }

  /** Whether line `i` continues the entry above it. */
  continues(i: number): boolean {
    if (i <= 0 || i >= this.#lines.length) return false;
    this.#entries(i + 1);
    return (this.#flags[i]! & CONT) !== 0;
  }

  /** The first line of the entry holding line `i`. */
  head(i: number): number {
    i = Math.max(0, Math.min(i, this.#lines.length - 1));
    this.#entries(i + 1);
    while (i > 0 && this.#flags[i]! & CONT) i--;
    return i;
  }

  /** The index after the last line of the entry starting at `head`. */
  entryEnd(head: number): number {
    const n = this.#lines.length;
    let e = head + 1;
    // Entries are read in steps, as far as this entry goes.
    while (true) {
      this.#entries(Math.min(n, e + 64));
      while (e < this.#entriesDone && this.#flags[e]! & CONT) e++;
      if (e < this.#entriesDone || e >= n) return e;
    }
  }

  /** The level of the entry holding line `i` (its first line's). */
  entryLevel(i: number): Level | null {
    return this.ownLevel(this.head(i));
  }

  /** Entries per level, over the lines whose level is computed (all of them once {@link complete}). */
  counts(): Record<LevelKey, number> {
    const out = {} as Record<LevelKey, number>;
    for (const k of LEVELS) out[k] = this.#counts[codeOf(k)]!;
    out.other = this.#counts[0]!;
    return out;
  }

  /** The byte in the file where line `i` starts. */
  offsetOf(i: number): number {
    this.#offsetsTo(Math.min(i + 1, this.#lines.length));
    return i < this.#offsetsDone ? this.#offsets[i]! : this.#fileOffset;
  }

  /** The line starting at byte `offset`, or -1 (no line starts there). */
  indexAt(offset: number): number {
    this.#offsetsTo(this.#lines.length);
    let lo = 0;
    let hi = this.#offsetsDone - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.#offsets[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * The lines `sel` keeps, from the entry holding line `from` on, whole
   * entries at a time: an entry is kept or left out with all its lines.
   * `from` in the answer is that entry's first line (a view replaces what it
   * shows from there).
   */
  select(sel: Selection, from = 0): { from: number; hits: number[] } {
    const n = this.#lines.length;
    const hits: number[] = [];
    if (n === 0) return { from: 0, hits };
    this.#entries(n);
    if (sel.levels) this.#levels(n);
    const flags = this.#flags;
    const { re, levels, marked } = sel;
    let i = this.head(Math.min(from, n - 1));
    const start = Math.min(from, i);
    while (i < n) {
      let e = i + 1;
      while (e < n && flags[e]! & CONT) e++;
      let keep = true;
      if (levels) {
        const level = CODE_LEVEL[flags[i]! & LEVEL_BITS] ?? null;
        keep = levels.has(level ?? "other");
      }
      if (keep && marked) {
        keep = false;
        for (let k = i; k < e && !keep; k++) keep = marked(k);
      }
      if (keep && re) {
        keep = false;
        for (let k = i; k < e && !keep; k++) {
          re.lastIndex = 0;
          keep = re.test(flags[k]! & ESCAPED ? this.plain(k) : this.#lines[k]!);
        }
      }
      if (keep) { for (let k = i; k < e; k++) hits.push(k); }
      i = e;
    }
    return { from: start, hits };
  }

  /** Decides the entry context and format from the first lines (plain text: a coloured timestamp is a timestamp). */
  #decide(): void {
    const sample: string[] = [];
    for (const line of this.#lines) {
      if (line.trim() === "") continue;
      sample.push(hasEscapes(line) ? stripAnsi(line) : line);
      if (sample.length >= ENTRY_SAMPLE) break;
    }
    this.context = detectEntryContext(sample);
    this.format = detectFormat(sample);
    this.#provisional = sample.length < Math.max(ENTRY_SAMPLE, FORMAT_SAMPLE);
  }

  #grow(n: number): void {
    if (n <= this.#flags.length) return;
    const size = Math.max(n, this.#flags.length * 2);
    const flags = new Uint8Array(size);
    flags.set(this.#flags);
    this.#flags = flags;
    const offsets = new Float64Array(size);
    offsets.set(this.#offsets);
    this.#offsets = offsets;
  }

  /** Forgets what was known of lines from `i` on. */
  #forget(i: number): void {
    for (let k = i; k < this.#levelsDone; k++) {
      if (!(this.#flags[k]! & CONT)) {
        this.#counts[this.#flags[k]! & LEVEL_BITS]!--;
      }
    }
    this.#levelsDone = Math.min(this.#levelsDone, i);
    this.#offsetsDone = Math.min(this.#offsetsDone, i);
    this.#plain.length = Math.min(this.#plain.length, i);
    if (this.#entriesDone > i) {
      if (this.#before && this.#before.at === i) {
        this.#scanner = this.#before.scanner;
        this.#before = null;
        this.#entriesDone = i;
      } else {
        // Only the last line ever changes, so this is a view that started over: read them all again.
        this.#scanner = new EntryScanner(this.context);
        this.#before = null;
        this.#entriesDone = 0;
        this.#levelsDone = 0;
        this.#counts.fill(0);
      }
    }
  }

  /** Reads entries (and which lines have escapes) up to line `to`. */
  #entries(to: number): void {
    const lines = this.#lines;
    this.#grow(to);
    const last = lines.length - 1;
    for (let i = this.#entriesDone; i < to; i++) {
      const line = lines[i]!;
      let plain = line;
      let flags = UNKNOWN;
      if (hasEscapes(line)) {
        plain = stripAnsi(line);
        this.#plain[i] = plain;
        flags |= ESCAPED;
      }
      if (i === last) this.#before = { at: i, scanner: this.#scanner.clone() };
      if (this.#scanner.push(plain) && i > 0) flags |= CONT;
      this.#flags[i] = flags;
    }
    if (to > this.#entriesDone) this.#entriesDone = to;
  }

  /** Computes levels (and counts entries by level) up to line `to`. */
  #levels(to: number): void {
    this.#entries(to);
    for (let i = this.#levelsDone; i < to; i++) {
      const f = this.#flags[i]!;
      const code = codeOf(
        detectLevel(f & ESCAPED ? this.plain(i) : this.#lines[i]!),
      );
      this.#flags[i] = (f & ~LEVEL_BITS) | code;
      if (!(f & CONT)) this.#counts[code]!++;
    }
    if (to > this.#levelsDone) this.#levelsDone = to;
  }

  /** Computes byte offsets up to line `to`. */
  #offsetsTo(to: number): void {
    this.#grow(to);
    let at = this.#offsetsDone === 0 ? this.#fileOffset : this.#offsets[this.#offsetsDone - 1]! +
      utf8Length(this.#lines[this.#offsetsDone - 1]!) + 1;
    for (let i = this.#offsetsDone; i < to; i++) {
      this.#offsets[i] = at;
      at += utf8Length(this.#lines[i]!) + 1;
    }
    if (to > this.#offsetsDone) this.#offsetsDone = to;
  }
}
