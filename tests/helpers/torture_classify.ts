/**
 * How the torture test (tests/e2e/torture.test.ts) explains a payload that
 * is no version the writer finished: which half-written state of the file it
 * shows, and how long that state stayed. Plain functions of the writer's
 * record, unit-tested in tests/unit/torture_classify.test.ts.
 * @module
 */

/**
 * One state the file passed through, including the half-written ones, with
 * bounds on how long it stayed (writer's clock): at least from the end of the
 * call that made it to the start of the next call, at most from the start of
 * the one to the end of the other.
 */
export interface DiskState {
  op: number;
  kind: string;
  /** null: the file did not exist. */
  text: string | null;
  /** A whole version (not a writer's half-done work). */
  whole: boolean;
  callAt: number;
  doneAt: number;
  minMs: number;
  maxMs: number;
  /** The mtime (ms) the writer set explicitly with this step (utime). */
  mtimeMs?: number;
  /**
   * Not the state after the call but the file inside it, while a truncate
   * had set the size and not yet the times (see {@link viewsOf}).
   */
  midTruncate?: boolean;
  /** Not the state after the call but the file inside a write, part of its bytes copied (see {@link midWriteOf}). */
  midWrite?: boolean;
}

/**
 * short: certainly gone within the settle window; stalled: certainly stayed
 * at least that long (the writer was descheduled between or inside two of
 * its calls); twin: short, but the file showed an identical state (same
 * bytes, inode, size and mtime) at least the settle window later, so two
 * reads that far apart agreed on what looked like one state; else unsure.
 */
export type Life = "short" | "twin" | "stalled" | "unsure";

/** The life of a torn payload's state (undefined: no recorded state matches it). */
export function lifeOf(st: DiskState | undefined, twin: boolean, settleMs: number): Life {
  if (!st) return "unsure";
  if (st.maxMs < settleMs) return twin ? "twin" : "short";
  return st.minMs >= settleMs ? "stalled" : "unsure";
}

/**
 * How long before the call that changed it began a file's mtime may read, in
 * ms: the kernel takes it from its coarse clock, up to one tick (10 ms at
 * HZ=100) behind, and the writer's clock may be a millisecond off the
 * kernel's. It never reads later than the call's end (plus that millisecond).
 */
export const MTIME_SLOP_MS = 11;

/** Whether the file after step `i` could show mtime `mtimeMs` (whole ms): the one it set, or the kernel's time of the call. */
function mtimeOfStep(states: DiskState[], i: number, mtimeMs: number): boolean {
  const st = states[i];
  if (!st) return false;
  if (st.mtimeMs !== undefined) return st.mtimeMs === mtimeMs;
  return mtimeMs >= st.callAt - MTIME_SLOP_MS && mtimeMs <= st.doneAt + 1;
}

/**
 * The ways state `i` could have looked to a stat showing mtime `mtimeMs`,
 * each with bounds on how long it lasted: the state itself, under the mtime
 * the call that made it set; and, for a file emptied in place, the state
 * inside that call, under the previous state's times: Linux sets a truncated
 * file's size before its times (docs/detection.md#settled-reads), so for as
 * long as the truncate runs (tens of milliseconds when the writer is
 * descheduled inside it) a stat sees the emptied file under the times of the
 * change before. That view lasted at most as long as the call.
 */
export function viewsOf(states: DiskState[], i: number, mtimeMs: number): DiskState[] {
  const st = states[i];
  if (!st) return [];
  const views: DiskState[] = [];
  if (mtimeOfStep(states, i, mtimeMs)) views.push(st);
  const prev = states[i - 1];
  if (st.text === "" && prev && prev.text !== null && prev.text !== "" && mtimeOfStep(states, i - 1, mtimeMs)) {
    views.push({ ...st, minMs: 0, maxMs: st.doneAt - st.callAt, midTruncate: true });
  }
  return views;
}

/**
 * Which of the `candidates` (half-written states with the payload's bytes)
 * the payload showed, by its mtime: of the ways they could have looked with
 * that mtime ({@link viewsOf}), the one that lasted longest (the server
 * confirms a state by two reads some time apart, so a long state explains a
 * payload better than a short one with the same bytes and mtime); when none
 * could show that mtime, the state whose lifetime is nearest it.
 */
export function stateOf(states: DiskState[], candidates: DiskState[], mtimeMs: number): DiskState | undefined {
  if (candidates.length === 0) return undefined;
  const views = candidates.flatMap((c) => viewsOf(states, states.indexOf(c), mtimeMs));
  if (views.length > 0) return views.reduce((a, b) => b.maxMs > a.maxMs ? b : a);
  const dist = (st: DiskState) => mtimeMs < st.callAt ? st.callAt - mtimeMs : Math.max(0, mtimeMs - st.doneAt);
  return candidates.reduce((a, b) => dist(b) < dist(a) ? b : a);
}

/**
 * The file inside one of the writer's write calls, when `text` is what it
 * showed: the kernel copies a write's bytes a page at a time and moves the
 * size as it goes, after it set the times, so a writer descheduled in the
 * middle of a call leaves the new bytes up to some offset over the old ones
 * (or, past the old end, nothing), under the times of that call. Undefined
 * when no step's middle shows `text` under mtime `mtimeMs`; else the step,
 * as a view that lasted at most as long as its call. Of several, the longest.
 */
export function midWriteOf(states: DiskState[], text: string, mtimeMs: number): DiskState | undefined {
  let best: DiskState | undefined;
  for (let i = 1; i < states.length; i++) {
    const st = states[i]!;
    const before = states[i - 1]!.text;
    if (st.text === null || before === null || st.mtimeMs !== undefined || !mtimeOfStep(states, i, mtimeMs)) continue;
    if (text.length < before.length || text.length > Math.max(before.length, st.text.length)) continue;
    // The new bytes up to m, the old ones after it.
    let m = 0;
    while (m < text.length && text[m] === st.text[m]) m++;
    if (text.length > before.length && m < text.length) continue;
    if (text.slice(m) !== before.slice(m) || text === st.text || text === before) continue;
    const view = { ...st, text, minMs: 0, maxMs: st.doneAt - st.callAt, midWrite: true };
    if (!best || view.maxMs > best.maxMs) best = view;
  }
  return best;
}

/**
 * Whether the file showed a state with these bytes twice, indistinguishably,
 * at least `settleMs` apart: the same bytes in the same inode, each time
 * right after a step that set the same mtime (a same-tick rewrite truncating
 * the file again; on a filesystem with a coarse clock every rewrite in one
 * tick does this). Stat and read see one state; only the history differs.
 */
export function twinned(states: DiskState[], text: string, mtimeMs: number, settleMs: number): boolean {
  const looks = states.filter((st, i) => !st.whole && st.text === text && states[i - 1]?.mtimeMs === mtimeMs);
  return looks.some((a) =>
    looks.some((b) => b !== a && b.op === a.op && b.callAt + b.maxMs - a.callAt >= settleMs - 1)
  );
}
