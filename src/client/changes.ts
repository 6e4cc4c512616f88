/**
 * Which lines changed: after a replacement, the lines of the new version that
 * a line diff against the previous one marks as added; after an append, the
 * new lines. Pure; the page marks the ranges for a moment.
 * @module
 */
import { diffArrays } from "diff";

/** How long changed or new lines stay marked. */
export const CHANGED_MS = 4_000;

/** Lines `[start, end)` of the new version (0-based, on screen). */
export type LineRange = [number, number];

/**
 * The largest middle part (what is left once the common first and last lines
 * are set aside) that is diffed line by line, in lines on either side. Myers'
 * diff costs O((N+M)·D) time; past this, or past {@link MAX_EDITS} edits, the
 * whole middle counts as changed: a reader gets a coarser mark instead of a
 * frozen tab (a 200k-line file rewritten in many places would otherwise take
 * seconds).
 */
export const MAX_DIFF_LINES = 20_000;
/** The edit distance past which the diff gives up (see {@link MAX_DIFF_LINES}). */
export const MAX_EDITS = 2_000;

/** What {@link changedLines} found, and whether it had to give up on detail. */
export interface Changed {
  ranges: LineRange[];
  /** The middle was too large or too different to diff: all of it is marked. */
  coarse: boolean;
}

/**
 * The lines of `next` that are not in `prev`, as ranges. The common prefix
 * and suffix are skipped first (a log rewritten near its end costs what
 * changed, not its length); the middle goes to jsdiff's `diffArrays`.
 * @example
 * ```ts
 * changedLines(["a", "b", "c"], ["a", "B", "c", "d"]).ranges; // [[1, 2], [3, 4]]
 * ```
 */
export function changedLines(prev: readonly string[], next: readonly string[]): Changed {
  let start = 0;
  const common = Math.min(prev.length, next.length);
  while (start < common && prev[start] === next[start]) start++;
  let endP = prev.length;
  let endN = next.length;
  while (endP > start && endN > start && prev[endP - 1] === next[endN - 1]) {
    endP--;
    endN--;
  }
  if (endN === start) return { ranges: [], coarse: false }; // only deletions: nothing new to mark
  if (endP === start) return { ranges: [[start, endN]], coarse: false }; // only insertions
  const whole: Changed = { ranges: [[start, endN]], coarse: true };
  if (endP - start > MAX_DIFF_LINES || endN - start > MAX_DIFF_LINES) return whole;
  const parts = diffArrays(prev.slice(start, endP), next.slice(start, endN), { maxEditLength: MAX_EDITS });
  if (!parts) return whole;
  const ranges: LineRange[] = [];
  let at = start;
  for (const p of parts) {
    if (p.removed) continue;
    if (p.added) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === at) last[1] = at + p.count;
      else ranges.push([at, at + p.count]);
    }
    at += p.count;
  }
  return { ranges, coarse: false };
}

/** The lines an append added or finished: from `first` (see Lines.extend) to `total`. */
export function appendedLines(first: number, total: number): LineRange[] {
  return first < total ? [[first, total]] : [];
}

/**
 * `a` and `b` as one sorted list of ranges, overlapping or touching ones
 * joined: the lines still marked after another append's are added.
 * @example
 * ```ts
 * mergeRanges([[0, 2]], [[1, 4], [6, 7]]); // [[0, 4], [6, 7]]
 * ```
 */
export function mergeRanges(a: readonly LineRange[], b: readonly LineRange[]): LineRange[] {
  const all = [...a, ...b].filter(([s, e]) => e > s).sort((x, y) => x[0] - y[0]);
  const out: LineRange[] = [];
  for (const [s, e] of all) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** `ranges` after `gone` lines left the front: moved up, cut at 0, empty ones dropped. */
export function shiftRanges(ranges: readonly LineRange[], gone: number): LineRange[] {
  if (gone === 0) return ranges.map(([s, e]) => [s, e]);
  return ranges.map(([s, e]): LineRange => [Math.max(0, s - gone), e - gone]).filter(([s, e]) => e > s);
}

/** Whether line `i` is in one of the sorted, disjoint `ranges` (a binary search). */
export function inRanges(ranges: readonly LineRange[], i: number): boolean {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const [s, e] = ranges[mid]!;
    if (i < s) hi = mid;
    else if (i >= e) lo = mid + 1;
    else return true;
  }
  return false;
}
