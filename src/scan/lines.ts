/**
 * `GET /lines`: any lines of a file of any size, by number, by byte offset or
 * from the end, read with positioned reads (never the whole file) and
 * numbered by the {@link LineIndex}.
 *
 * - `?line=N&count=K`: lines N to N+K-1 (1-based); a negative K gives the
 *   |K| lines ending at N.
 * - `?offset=B&count=K`: from the first line starting at or after byte B
 *   (offsets snap to line starts); a negative K gives the |K| lines before it.
 * - `?end=1&count=K`: the last K lines.
 *
 * The answer is `{"size","lastMod","total","lines":[{"n","offset","text"}]}`.
 * `total` is null until the index is complete; `n` is null where the index
 * has not reached the line yet (only in `offset`/`end` answers: a `line`
 * question waits for the index, see {@link IndexPendingError}). A line
 * longer than {@link LINE_CUT} bytes is cut there, with `"cut":true` and
 * `"bytes"` (its whole length); bytes that are not UTF-8 read as U+FFFD. The
 * text is the line's bytes without its `\n` (a `\r` before it stays).
 * @module
 */
import type { ReadHandle } from "./_file.ts";
import { readFully } from "./_file.ts";
import type { LineIndex } from "./line_index.ts";
import { countNewlines, nthNewline } from "./newlines.ts";
import type { Line, LinesAnswer } from "../shared/answers.ts";

/** The most lines one answer may ask for. */
export const MAX_COUNT = 10_000;
/** Lines asked for when `count` is not given. */
export const DEFAULT_COUNT = 100;
/** A line longer than this (bytes, without its newline) is cut. */
export const LINE_CUT = 64 * 1024;
/**
 * Bytes of text one answer carries at most: past it the answer stops early
 * (at least one line), so 10,000 cut lines cannot make a 640 MiB answer. The
 * client asks again from the next line.
 */
export const ANSWER_BUDGET = 8 * 1024 * 1024;
/** Bytes per read; larger than {@link LINE_CUT}, so every read ends at least one line or cuts one. */
const READ = 1 << 20;
/**
 * The first read of a walk: most questions want a screen of lines or one
 * stamped line, not a MiB. Also larger than {@link LINE_CUT}.
 */
const FIRST_READ = 128 * 1024;
const NL = 10;

/** Which lines a `/lines` request asks for (see {@link parseLinesQuery}). */
export type LinesQuery =
  | { by: "line"; line: number; count: number }
  | { by: "offset"; offset: number; count: number }
  | { by: "end"; count: number };

/** One line of an answer: the shape src/shared/answers.ts gives `/lines` and `/search`, by this module's name. */
export type LineOut = Line;
/** The answer to `GET /lines`, one shape for the server and the page (src/shared/answers.ts). */
export type { LinesAnswer };

const NUMBER = /^-?\d{1,16}$/;

/**
 * Reads a `/lines` query. Returns the query, or the reason a 400 gives:
 * exactly one of `line` (from 1), `offset` (from 0) or `end=1`, and `count`
 * (default {@link DEFAULT_COUNT}), a whole number other than 0 of at most
 * {@link MAX_COUNT}, negative only with `line` or `offset`. Other parameters
 * are left to the route (`file=` names a generation).
 * @example
 * ```ts
 * parseLinesQuery(new URLSearchParams("line=10&count=-5")); // { query: { by: "line", line: 10, count: -5 } }
 * parseLinesQuery(new URLSearchParams("line=0"));           // { error: 'Cannot read lines: "line" must be ... got "0"' }
 * ```
 */
export function parseLinesQuery(params: URLSearchParams): { query: LinesQuery } | { error: string } {
  const fail = (why: string) => ({ error: `Cannot read lines: ${why}` });
  const given = ["line", "offset", "end"].filter((k) => params.has(k));
  if (given.length !== 1) {
    return fail(
      given.length ? `give only one of ${given.map((k) => `"${k}"`).join(", ")}` : `give "line", "offset" or "end=1"`,
    );
  }
  for (const k of ["line", "offset", "end", "count"]) {
    if (params.getAll(k).length > 1) return fail(`"${k}" is given more than once`);
  }
  const int = (k: string, min: number): number | string => {
    const v = params.get(k)!;
    const n = NUMBER.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) && n >= min ? n : `"${k}" must be a whole number from ${min}, got "${v}"`;
  };
  let count = DEFAULT_COUNT;
  if (params.has("count")) {
    const v = params.get("count")!;
    const n = NUMBER.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n === 0 || Math.abs(n) > MAX_COUNT) {
      return fail(`"count" must be a whole number from -${MAX_COUNT} to ${MAX_COUNT} other than 0, got "${v}"`);
    }
    count = n;
  }
  const by = given[0]!;
  if (by === "end") {
    if (params.get("end") !== "1") return fail(`"end" must be 1, got "${params.get("end")}"`);
    if (count < 0) return fail(`"count" must be positive with "end", got "${count}"`);
    return { query: { by: "end", count } };
  }
  const v = int(by, by === "line" ? 1 : 0);
  if (typeof v === "string") return fail(v);
  return { query: by === "line" ? { by: "line", line: v, count } : { by: "offset", offset: v, count } };
}

/** What {@link readLines} needs besides the handle and the query. */
export interface ReadLinesOptions {
  /** The version token to put in the answer. */
  lastMod: string;
  /** How long a `line` question waits for the index (default: the index's own wait). */
  waitMs?: number;
  signal?: AbortSignal;
}

/**
 * The answer to a `/lines` query for the file open as `fh` with `size`
 * bytes. The `index` must have been told this state (`index.sync`) and
 * started; a `line` question past what it has indexed waits for it and
 * throws {@link IndexPendingError} when the wait runs out.
 */
export async function readLines(
  fh: ReadHandle,
  size: number,
  index: LineIndex,
  query: LinesQuery,
  options: ReadLinesOptions,
): Promise<LinesAnswer> {
  const r = new LineReader(fh, size, index);
  let lines: LineOut[] = [];
  if (query.by === "line") {
    const { line: N, count: K } = query;
    const first = K > 0 ? N : Math.max(1, N + K + 1);
    const want = K > 0 ? K : N - first + 1;
    await index.waitFor(() => first - 1 <= index.newlines || index.complete, options.waitMs, options.signal);
    const start = await r.lineStart(first);
    if (start !== null) lines = await r.forward(start, first, want, size);
  } else if (query.by === "offset") {
    const start = await r.nextLineStart(query.offset);
    if (query.count > 0) {
      if (start !== null) lines = await r.forward(start, await r.lineNumberAt(start), query.count, size);
    } else {
      const end = start ?? size;
      const from = await r.startBack(end, -query.count);
      if (from < end) lines = await r.forward(from, await r.lineNumberAt(from), -query.count, end);
    }
  } else {
    const from = await r.startBack(size, query.count);
    if (from < size) lines = await r.forward(from, await r.lineNumberAt(from), query.count, size);
  }
  return { size, lastMod: options.lastMod, total: index.total, lines };
}

/** The byte length of `bytes[0, n)` backed off to a UTF-8 character boundary (at most 3 bytes back). */
function utf8Cut(bytes: Uint8Array, n: number): number {
  let i = n;
  while (i > n - 3 && i > 0 && (bytes[i]! & 0xc0) === 0x80) i--;
  return (bytes[i]! & 0xc0) === 0x80 ? n : i;
}

/**
 * Reads lines of one file at one size. Exported for the other scan modules
 * (`/time` numbers the line it finds, search numbers its matches).
 */
export class LineReader {
  readonly #fh: ReadHandle;
  readonly #size: number;
  readonly #index: LineIndex;
  #buf: Uint8Array | null = null;
  // ignoreBOM: a U+FEFF at a line's start is the file's byte, not a marker to drop.
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  constructor(fh: ReadHandle, size: number, index: LineIndex) {
    this.#fh = fh;
    this.#size = size;
    this.#index = index;
  }

  /** `[pos, pos + len)` of the file (fewer bytes at its end), in the reader's buffer (grown to 1 MiB only if asked). */
  async #read(pos: number, len: number): Promise<Uint8Array> {
    const want = Math.min(len, READ, Math.max(0, this.#size - pos));
    if (!this.#buf || this.#buf.length < want) this.#buf = new Uint8Array(want <= FIRST_READ ? FIRST_READ : READ);
    const n = await readFully(this.#fh, this.#buf, 0, want, pos);
    return this.#buf.subarray(0, n);
  }

  /**
   * Where line `n` starts, or null when the file has no line `n`. The index
   * must have reached it (`n - 1 <= index.newlines`) or be complete.
   */
  async lineStart(n: number): Promise<number | null> {
    const index = this.#index;
    if (n - 1 > index.newlines) return null;
    const e = index.entryForLine(n);
    let pos = e.offset;
    let want = n - e.line;
    while (want > 0) {
      const part = await this.#read(pos, READ);
      if (part.length === 0) return null;
      const j = nthNewline(part, want);
      if (j >= 0) {
        pos += j + 1;
        want = 0;
      } else {
        want -= countNewlines(part);
        pos += part.length;
      }
    }
    return pos < this.#size ? pos : null;
  }

  /** The number of the line starting at `offset` (a line start), or null when the index has not reached it. */
  async lineNumberAt(offset: number): Promise<number | null> {
    const index = this.#index;
    if (offset > index.indexed) return null;
    const e = index.entryForOffset(offset);
    let line = e.line;
    for (let pos = e.offset; pos < offset;) {
      const part = await this.#read(pos, offset - pos);
      if (part.length === 0) return null;
      line += countNewlines(part);
      pos += part.length;
    }
    return line;
  }

  /** The first line start at or after `offset`, or null when no line starts there before the end. */
  async nextLineStart(offset: number): Promise<number | null> {
    if (offset <= 0) return this.#size > 0 ? 0 : null;
    // A line starts at `offset` when the byte before it ends a line.
    for (let pos = offset - 1, size = FIRST_READ; pos < this.#size; size = READ) {
      const part = await this.#read(pos, size);
      if (part.length === 0) return null;
      const j = part.indexOf(NL);
      if (j >= 0) return pos + j + 1 < this.#size ? pos + j + 1 : null;
      pos += part.length;
    }
    return null;
  }

  /**
   * The start of the `k`-th line counted back from the one that ends just
   * before `end` (a line start, or the file's size): the first of the `k`
   * lines before `end`, or 0 when there are fewer.
   */
  async startBack(end: number, k: number): Promise<number> {
    let p = end;
    let first = true;
    while (p > 0) {
      const from = Math.max(0, p - (first ? FIRST_READ : READ));
      let part = await this.#read(from, p - from);
      if (part.length < p - from) return from; // shrank meanwhile: what is left starts here
      // The newline that ends the last line is not a line start before it.
      if (first && part[part.length - 1] === NL) part = part.subarray(0, part.length - 1);
      first = false;
      const c = countNewlines(part);
      if (c >= k) return from + nthNewline(part, c - k + 1) + 1;
      k -= c;
      p = from;
    }
    return 0;
  }

  /** The end (offset of its `\n`, or the size) of a line that goes on past `from`, its number `n` if known. */
  async #lineEnd(from: number, n: number | null, limit: number): Promise<number> {
    // A line longer than the index's stride has the next line's start as an entry.
    const next = n === null ? null : this.#index.entryAtLine(n + 1);
    if (next && next.offset - 1 >= from) return next.offset - 1;
    for (let pos = from; pos < limit;) {
      const part = await this.#read(pos, limit - pos);
      if (part.length === 0) return pos;
      const j = part.indexOf(NL);
      if (j >= 0) return pos + j;
      pos += part.length;
    }
    return limit;
  }

  /**
   * Calls `visit` with each line from the line start `start` to `limit` (a
   * line start or the size), until it returns false: the line's offset, its
   * first bytes (at most {@link LINE_CUT} + 3, so a cut can back off to a
   * character boundary; valid only during the call), its length without the
   * newline, and where the next line starts. `n` is the first line's number,
   * if known: a long line's end then comes from the index.
   */
  async walk(
    start: number,
    n: number | null,
    limit: number,
    visit: (offset: number, head: Uint8Array, length: number, next: number) => boolean,
  ): Promise<void> {
    let pos = start;
    for (let size = FIRST_READ; pos < limit; size = READ) {
      const wanted = Math.min(size, limit - pos);
      const part = await this.#read(pos, wanted);
      if (part.length === 0) return;
      // Fewer bytes than asked: the file shrank meanwhile, and this is its end now.
      const atEnd = part.length < wanted || pos + part.length >= limit;
      let i = 0;
      let next = -1; // where to go on after a long line
      while (i < part.length) {
        const j = part.indexOf(NL, i);
        if (j >= 0) {
          if (!visit(pos + i, part.subarray(i, Math.min(j, i + LINE_CUT + 3)), j - i, pos + j + 1)) return;
          if (n !== null) n++;
          i = j + 1;
          continue;
        }
        const rest = part.length - i;
        if (atEnd) {
          // The last line before the limit, without a newline (a line being written, or the file's last).
          visit(pos + i, part.subarray(i, i + LINE_CUT + 3), rest, pos + part.length);
          return;
        }
        if (rest > LINE_CUT) {
          const begin = pos + i;
          // Copied: the buffer is reused to find the line's end.
          const head = part.slice(i, i + LINE_CUT + 3);
          const end = await this.#lineEnd(pos + part.length, n, limit);
          if (!visit(begin, head, end - begin, end + 1)) return;
          if (n !== null) n++;
          next = end + 1;
        }
        break; // a short line cut by the buffer's end is read again from its start
      }
      pos = next >= 0 ? next : pos + i;
    }
  }

  /** A line's text as an answer gives it: cut at {@link LINE_CUT} bytes (on a character boundary) with `cut` and `bytes`. */
  line(n: number | null, offset: number, head: Uint8Array, length: number): LineOut {
    if (length <= LINE_CUT) return { n, offset, text: this.#decoder.decode(head.subarray(0, length)) };
    const text = this.#decoder.decode(head.subarray(0, utf8Cut(head, LINE_CUT)));
    return { n, offset, text, cut: true, bytes: length };
  }

  /**
   * Up to `count` lines from the line start `start` (numbered from `n`,
   * when known), none starting at or after `limit`, and fewer when they pass
   * {@link ANSWER_BUDGET}.
   */
  async forward(start: number, n: number | null, count: number, limit: number): Promise<LineOut[]> {
    const out: LineOut[] = [];
    let budget = ANSWER_BUDGET;
    await this.walk(start, n, limit, (offset, head, length) => {
      out.push(this.line(n === null ? null : n + out.length, offset, head, length));
      budget -= Math.min(length, LINE_CUT);
      return out.length < count && budget > 0;
    });
    return out;
  }
}
