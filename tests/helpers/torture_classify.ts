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
 * Which of the `candidates` (half-written states with the payload's bytes)
 * the payload showed, by its mtime: after an mtime the writer set itself (an
 * older copy, a same-tick rewrite), the first such state after it — truncating
 * keeps the previous mtime for a moment, which is how an emptied file gets an
 * old one; otherwise the state whose lifetime is nearest the mtime.
 */
export function stateOf(states: DiskState[], candidates: DiskState[], mtimeMs: number): DiskState | undefined {
  if (candidates.length === 0) return undefined;
  const set = states.findLastIndex((st) => st.mtimeMs === mtimeMs);
  if (set >= 0) {
    const after = states.findIndex((st, i) => i > set && candidates.includes(st));
    if (after >= 0) return states[after];
  }
  const dist = (st: DiskState) => mtimeMs < st.callAt ? st.callAt - mtimeMs : Math.max(0, mtimeMs - st.doneAt);
  return candidates.reduce((a, b) => dist(b) < dist(a) ? b : a);
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
