/**
 * A hidden tab says in its title how many lines arrived since it was last
 * looked at: `(12) app.log — filewatch` (docs/page.md#reading-real-logs).
 * @module
 */
import { countNewlines } from "../shared/chunks.ts";
import type { Shown } from "./pause.ts";
import { splitLines } from "./lines.ts";

/**
 * How many lines a change brought: an append, the lines it completed; a
 * replacement, the lines it has beyond the `before` shown (at least one:
 * something changed).
 */
export function arrivedLines(change: Shown, before: number): number {
  if (change.kind === "extend") return countNewlines(change.added);
  return Math.max(1, splitLines(change.held.text).length - before);
}

/** Counts lines while the tab is hidden; `show` paints the count (0: none). */
export class Unseen {
  #lines = 0;
  readonly #hidden: () => boolean;
  readonly #show: (lines: number) => void;

  constructor(hidden: () => boolean, show: (lines: number) => void) {
    this.#hidden = hidden;
    this.#show = show;
  }

  /** A change arrived (`before`: lines shown before it). */
  arrived(change: Shown, before: number): void {
    if (!this.#hidden()) return;
    const n = arrivedLines(change, before);
    if (n === 0) return;
    this.#lines += n;
    this.#show(this.#lines);
  }

  /** The tab was looked at. */
  seen(): void {
    if (this.#lines === 0) return;
    this.#lines = 0;
    this.#show(0);
  }
}
