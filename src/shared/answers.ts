/**
 * The shapes of the reading routes' answers (docs/protocol.md): what
 * `/lines`, `/time` and `/search` send, as the server builds them
 * (src/scan/) and as the page reads them once checked (src/client/remote.ts).
 * Types only: one definition, so the two sides cannot drift apart.
 * @module
 */

/** One line of the file as `/lines` and `/search` give it. */
export interface Line {
  /** Its 1-based number; null while the server's line index has not reached it. */
  n: number | null;
  /** The byte where it starts (in the decompressed content for a `.gz`). */
  offset: number;
  /** Its text, without the `\n` (a `\r` before it stays); U+FFFD for bytes that are not UTF-8. */
  text: string;
  /** Present (true) when the text is only the line's first 64 KiB. */
  cut?: true;
  /** With `cut`: the line's whole length in bytes, without its newline. */
  bytes?: number;
}

/** The answer to `GET /lines`. */
export interface LinesAnswer {
  /** The file's size when it was read: the lines are from bytes before it. */
  size: number;
  /** The version token of that state (see docs/protocol.md, "Versions"). */
  lastMod: string;
  /** The file's line count, or null while the index is being built. */
  total: number | null;
  lines: Line[];
}

/** The answer to `GET /time`: the line found, or all three null when every stamped line is earlier than asked. */
export interface TimeAnswer {
  /** The line's number, or null when the index has not reached it within the wait. */
  n: number | null;
  /** The byte offset where the line starts. */
  offset: number | null;
  /** The line's stamp, as RFC 3339 in UTC with milliseconds. */
  t: string | null;
}

/** A `/search` value: one matching line (always numbered). */
export interface SearchMatch extends Line {
  n: number;
  /** The generation the line is in (history searches). */
  file?: string;
}

/** A `/search` value: progress, bytes looked at so far, of `size`. */
export interface SearchProgress {
  scanned: number;
  size: number;
}

/** A `/search` value, the last one. `next` (and `nextFile`) say where to go on when the limit stopped the search. */
export interface SearchDone {
  done: true;
  matches: number;
  scanned: number;
  /** Where to continue: pass it as `from` with the same `dir` (and `file=nextFile` in a history search). */
  next?: number;
  nextFile?: string;
  /** Why the search ended early (a read failed, the file shrank). */
  error?: string;
}
