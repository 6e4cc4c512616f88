/**
 * How the large-file view keeps its lines in step with the file as it grows:
 * an append's text becomes numbered lines with byte offsets, and byte counts
 * decide which part of an append the view already has. Pure, for the unit
 * tests.
 * @module
 */
import { utf8Length } from "./protocol.ts";
import type { Line } from "../shared/answers.ts";

/** A line's text longer than this many characters is cut, as the server cuts lines of 64 KiB. */
export const LINE_CUT_CHARS = 64 * 1024;

/** How many bytes `line` takes in the file, without its newline (an estimate where U+FFFD stands for bad bytes). */
export function lineBytes(line: Line): number {
  return line.cut && line.bytes !== undefined ? line.bytes : utf8Length(line.text);
}

/**
 * Whether `line`, the last of an answer for a file of `size` bytes, is the
 * file's last line: nothing but its own newline comes after it.
 */
export function reachesEnd(line: Line, size: number): boolean {
  return line.offset + lineBytes(line) >= size - 1;
}

/**
 * `text` with its first `bytes` UTF-8 bytes left out (the part of an append
 * the view already read through `/lines`).
 * @example
 * ```ts
 * dropBytes("é!\n", 2); // "!\n"
 * ```
 */
export function dropBytes(text: string, bytes: number): string {
  let b = 0;
  let i = 0;
  while (i < text.length && b < bytes) {
    const c = text.codePointAt(i)!;
    b += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    i += c >= 0x10000 ? 2 : 1;
  }
  return text.slice(i);
}

/** What an append did to the end of the file, as lines. */
export interface Appended {
  /** The file's last line, grown (it had no newline and the append continued it); null when it did not change. */
  grown: Line | null;
  /** The new lines, numbered when the file's line count was known. */
  lines: Line[];
  /** The file now ends inside a line (no newline at its end). */
  open: boolean;
  /** How many lines the file has now, when it was known before. */
  total: number | null;
}

/**
 * Splits `added`, appended at byte `start`, into the file's lines. `last` is
 * the file's last line before the append (null: not known here) and `open`
 * whether it had no newline yet (then the append's first piece continues it,
 * and is left out when that line is not known); `total` the file's line count
 * before (null: unknown, and so are the new lines' numbers).
 * @example
 * ```ts
 * appendLines(null, false, 0, "a\nbc", 10);
 * // { grown: null, lines: [{ n: 1, offset: 10, text: "a" }, { n: 2, offset: 12, text: "bc" }], open: true, total: 2 }
 * ```
 */
export function appendLines(
  last: Line | null,
  open: boolean,
  total: number | null,
  added: string,
  start: number,
): Appended {
  const pieces = added.split("\n");
  const ends = pieces.at(-1) === "";
  if (ends) pieces.pop();
  let grown: Line | null = null;
  let k = 0;
  let at = start;
  if (open && pieces.length > 0) {
    // The first piece finishes the line that was open (counted already); unknown, it is left out.
    const head = pieces[0]!;
    // A line already cut keeps its first part: only its length grows.
    if (last) {
      grown = cut({ ...last, text: last.cut ? last.text : last.text + head }, lineBytes(last) + utf8Length(head));
    }
    at += utf8Length(head) + (pieces.length > 1 || ends ? 1 : 0);
    k = 1;
  }
  const lines: Line[] = [];
  let n = total;
  for (; k < pieces.length; k++) {
    const text = pieces[k]!;
    const bytes = utf8Length(text);
    if (n !== null) n++;
    lines.push(cut({ n, offset: at, text }, bytes));
    at += bytes + 1;
  }
  return { grown, lines, open: added === "" ? open : !ends, total: n };
}

/** `line` cut to {@link LINE_CUT_CHARS} when longer, saying how many bytes it has. */
function cut(line: Line, bytes: number): Line {
  if (line.text.length <= LINE_CUT_CHARS && !line.cut) return line;
  const out: Line = { n: line.n, offset: line.offset, text: line.text.slice(0, LINE_CUT_CHARS), cut: true, bytes };
  return out;
}
