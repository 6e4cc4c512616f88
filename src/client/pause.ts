/**
 * Pause: the view holds still while changes keep arriving; they wait here,
 * folded into one, and resume shows the newest.
 * @module
 */
import type { Change } from "./text.ts";

/** A change the view can show (a stale one never reaches it). */
export type Shown = Exclude<Change, { kind: "stale" }>;

/**
 * Two changes in a row as one: a replacement wins (it carries the whole
 * text); two extensions add up (what both added, then what both dropped: the
 * drops together are a prefix of the text with everything added).
 */
export function fold(a: Shown | null, b: Shown): Shown {
  if (a === null || b.kind === "replace") return b;
  if (a.kind === "replace") return { kind: "replace", held: b.held };
  return { kind: "extend", held: b.held, added: a.added + b.added, dropped: a.dropped + b.dropped };
}

/**
 * The changes that arrived while paused.
 * @example
 * ```ts
 * const q = new PauseQueue();
 * q.pause();
 * q.push(change); q.waiting; // 1
 * const newest = q.resume(); // the folded change, or null
 * ```
 */
export class PauseQueue {
  paused = false;
  /** How many updates arrived while paused ("3 updates waiting"). */
  waiting = 0;
  #pending: Shown | null = null;

  pause(): void {
    this.paused = true;
  }

  /** Holds `change` while paused; returns false (show it now) when not paused. */
  push(change: Shown): boolean {
    if (!this.paused) return false;
    this.waiting++;
    this.#pending = fold(this.#pending, change);
    return true;
  }

  /** Unpauses; returns everything that waited as one change, or null. */
  resume(): Shown | null {
    const out = this.#pending;
    this.paused = false;
    this.waiting = 0;
    this.#pending = null;
    return out;
  }

  /** Drops what waited (the page rendered everything anew anyway). */
  clear(): void {
    this.waiting = 0;
    this.#pending = null;
  }
}

/** "3 updates waiting". */
export function waitingLabel(n: number): string {
  return n === 0 ? "" : `${n} ${n === 1 ? "update" : "updates"} waiting`;
}
