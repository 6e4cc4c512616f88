/**
 * The large-file view's cache of lines fetched from the server: bounded, so
 * a reader who visits a hundred places in a 4 GiB file keeps only the last
 * few screens' worth. Pure (no DOM, no fetch), for the unit tests.
 *
 * Lines are kept in *runs*: lines known to follow each other in the file
 * (one `/lines` answer is a run). The view asks for the next lines with one
 * line of overlap (from the last line it has, not the one after), so an
 * answer that continues a run shares a line with it and the two join; runs
 * whose numbers touch (…41, 42 | 43…) join too. A run's numbers are filled
 * in when any of its lines gets one (the server's index may finish between
 * two answers). Past the bounds, the runs used longest ago go first.
 * @module
 */
import type { Line } from "../shared/answers.ts";

/** Lines that follow each other in the file. */
interface Run {
  lines: Line[];
  /** Its last line is the file's last (as far as the page knows: an append clears it). */
  eof: boolean;
  /** When it was last put or read ({@link LineCache}'s clock). */
  used: number;
  chars: number;
}

/** Where to look: the line starting at a byte offset, or the line with a number. */
export type Anchor = { offset: number } | { n: number };

/** What {@link LineCache.get} found around an anchor. */
export interface CacheSlice {
  lines: Line[];
  /** The anchor's index in `lines`. */
  at: number;
  /** `lines` start with the file's first line. */
  startsFile: boolean;
  /** `lines` end with the file's last line (as far as the page knows). */
  endsFile: boolean;
}

const charsOf = (lines: readonly Line[]) => lines.reduce((s, l) => s + l.text.length, 0);

/** Index of the line starting at `offset` in `lines` (sorted by offset), or -1. */
function findOffset(lines: readonly Line[], offset: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const o = lines[mid]!.offset;
    if (o === offset) return mid;
    if (o < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Gives every line of `lines` its number when one of them has one (they follow each other). */
function fillNumbers(lines: Line[]): Line[] {
  const k = lines.findIndex((l) => l.n !== null);
  if (k === -1) return lines;
  const n0 = lines[k]!.n! - k;
  if (n0 < 1) return lines; // inconsistent: leave them as they came
  return lines.map((l, i) => l.n === n0 + i ? l : { ...l, n: n0 + i });
}

/**
 * A bounded cache of lines.
 * @example
 * ```ts
 * const cache = new LineCache(20_000, 8 << 20);
 * cache.put(answer.lines, { eof: true });
 * cache.get({ offset: answer.lines[0].offset }, 0, 100); // { lines, at: 0, … }
 * ```
 */
export class LineCache {
  /** Sorted by their first line's offset, disjoint. */
  #runs: Run[] = [];
  #clock = 0;

  /** At most `maxLines` lines and `maxChars` characters of text are kept. */
  constructor(readonly maxLines = 20_000, readonly maxChars = 8 * 1024 * 1024) {}

  /** Lines held. */
  get lines(): number {
    return this.#runs.reduce((s, r) => s + r.lines.length, 0);
  }

  /** Characters of text held. */
  get chars(): number {
    return this.#runs.reduce((s, r) => s + r.chars, 0);
  }

  /** How many runs (places in the file) are held. */
  get runs(): number {
    return this.#runs.length;
  }

  /** Forgets everything (the file was replaced). */
  clear(): void {
    this.#runs = [];
  }

  /** The file grew: no run ends at its end any more (until an append's lines are put with `eof`). */
  grew(): void {
    for (const r of this.#runs) r.eof = false;
  }

  /**
   * Adds `lines`, which follow each other in the file (one answer, in
   * order). Where they share lines with what is held, theirs win (they are
   * newer: a last line may have grown). `eof`: the last of them is the file's
   * last line.
   */
  put(lines: readonly Line[], opts: { eof?: boolean } = {}): void {
    if (lines.length === 0) return;
    const first = lines[0]!;
    const last = lines.at(-1)!;
    const joins = (r: Run) => {
      const a = r.lines[0]!;
      const b = r.lines.at(-1)!;
      if (a.offset <= last.offset && first.offset <= b.offset) return true; // they overlap
      // Numbers that touch: the run ends just before the new lines, or starts just after them.
      return (b.n !== null && first.n !== null && b.n + 1 === first.n) ||
        (last.n !== null && a.n !== null && last.n + 1 === a.n);
    };
    const touched = this.#runs.filter(joins);
    const before: Line[] = [];
    const after: Line[] = [];
    let eof = opts.eof ?? false;
    for (const r of touched) {
      for (const l of r.lines) {
        if (l.offset < first.offset) before.push(l);
        else if (l.offset > last.offset) after.push(l);
      }
      if (r.eof && r.lines.at(-1)!.offset > last.offset) eof = true;
    }
    if (after.length > 0 && opts.eof) eof = true; // the file's end is further on
    const merged = fillNumbers([...before, ...lines, ...after]);
    const run: Run = { lines: merged, eof, used: ++this.#clock, chars: charsOf(merged) };
    this.#runs = this.#runs.filter((r) => !touched.includes(r));
    const i = this.#runs.findIndex((r) => r.lines[0]!.offset > merged[0]!.offset);
    this.#runs.splice(i === -1 ? this.#runs.length : i, 0, run);
    this.#evict(run, first.offset, last.offset);
  }

  /**
   * Up to `before` lines before the anchor's line and `after` lines from it
   * (itself included), as far as its run goes; null when the anchor's line
   * is not held.
   */
  get(anchor: Anchor, before: number, after: number): CacheSlice | null {
    for (const r of this.#runs) {
      let k = -1;
      if ("offset" in anchor) {
        if (anchor.offset < r.lines[0]!.offset || anchor.offset > r.lines.at(-1)!.offset) continue;
        k = findOffset(r.lines, anchor.offset);
      } else {
        const n0 = r.lines[0]!.n;
        if (n0 === null) continue;
        k = anchor.n - n0;
        if (k >= r.lines.length) k = -1;
      }
      if (k < 0) continue;
      r.used = ++this.#clock;
      const from = Math.max(0, k - Math.max(0, before));
      const to = Math.min(r.lines.length, k + Math.max(1, after));
      return {
        lines: r.lines.slice(from, to),
        at: k - from,
        startsFile: from === 0 && r.lines[0]!.offset === 0,
        endsFile: to === r.lines.length && r.eof,
      };
    }
    return null;
  }

  /**
   * Drops runs used longest ago until the bounds hold; when the run just
   * put is alone over them, its lines farthest from what was just put go.
   */
  #evict(keep: Run, from: number, to: number): void {
    const over = () => this.lines > this.maxLines || this.chars > this.maxChars;
    while (over() && this.#runs.length > 1) {
      let oldest: Run | null = null;
      for (const r of this.#runs) if (r !== keep && (!oldest || r.used < oldest.used)) oldest = r;
      this.#runs = this.#runs.filter((r) => r !== oldest);
    }
    const lines = keep.lines;
    // Lines before and after the part just put: the longer side loses lines first.
    let a = lines.findIndex((l) => l.offset >= from);
    if (a === -1) a = lines.length;
    let b = lines.length - 1 - findLastAtMost(lines, to);
    while (over() && lines.length > 1) {
      let gone: Line;
      if (a >= b && a > 0) {
        gone = lines.shift()!;
        a--;
      } else {
        gone = lines.pop()!;
        b = Math.max(0, b - 1);
        keep.eof = false;
      }
      keep.chars -= gone.text.length;
    }
  }
}

/** Index of the last line of `lines` starting at or before `offset` (0 when none does). */
function findLastAtMost(lines: readonly Line[], offset: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  let best = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid]!.offset <= offset) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
