/**
 * The counting step of a line index build, shared by the build on the main
 * thread (src/scan/line_index.ts) and the one in a worker
 * (src/scan/_index_worker.ts): one chunk of the file in, the newline count
 * and the new entries out.
 * @module
 */
import type { NewlineScanner } from "./newlines.ts";

const NL = 10;
/** Bytes before the indexed end compared again before extending (see {@link tailMatches}). */
export const TAIL_CHECK = 64;

/** Where a build is: what was counted so far. */
export interface ScanState {
  /** Bytes counted: [0, indexed). */
  indexed: number;
  /** `\n` bytes in them. */
  newlines: number;
  lastIsNewline: boolean;
  /** The offset of the last entry. */
  lastEntry: number;
  /** The last bytes counted (up to {@link TAIL_CHECK}). */
  tail: Uint8Array;
}

/** The state of a build that has counted nothing. */
export function emptyState(): ScanState {
  return { indexed: 0, newlines: 0, lastIsNewline: false, lastEntry: 0, tail: new Uint8Array(0) };
}

/**
 * Counts `scanner.buffer[0, len)`, the file's bytes from `state.indexed`,
 * and calls `entry` for each new entry: the first line start at or after
 * `lastEntry + stride`.
 */
export function scanChunk(
  state: ScanState,
  scanner: NewlineScanner,
  len: number,
  stride: number,
  entry: (offset: number, line: number) => void,
): void {
  const base = state.indexed;
  const view = scanner.buffer.subarray(0, len);
  let pos = 0;
  for (;;) {
    // A newline at or after lastEntry + stride - 1 starts a line at or after lastEntry + stride.
    const at = state.lastEntry + stride - 1 - base;
    if (at >= len) break;
    const j = view.indexOf(NL, Math.max(pos, at));
    if (j < 0) break;
    state.newlines += scanner.count(pos, j + 1 - pos);
    state.lastEntry = base + j + 1;
    entry(state.lastEntry, state.newlines + 1);
    pos = j + 1;
  }
  state.newlines += scanner.count(pos, len - pos);
  state.lastIsNewline = view[len - 1] === NL;
  state.indexed = base + len;
  const tail = len >= TAIL_CHECK ? view.slice(len - TAIL_CHECK) : new Uint8Array([...state.tail, ...view]);
  state.tail = tail.length > TAIL_CHECK ? tail.slice(tail.length - TAIL_CHECK) : tail;
}

/**
 * Whether `got` (read again from before the indexed end) is the tail the
 * state remembers: an append keeps it, a rewrite under the same inode (a
 * `copytruncate` and a writer that went past the old size) does not.
 */
export function tailMatches(state: ScanState, got: Uint8Array): boolean {
  const was = state.tail;
  return got.length === was.length && got.every((b, i) => b === was[i]);
}
