/**
 * One file's reading engine, for the routes to wire: its line index (kept
 * between requests), `/lines` and `/time` answers for a handle the route
 * opened, and what each error becomes.
 *
 * ```ts
 * const log = new LogFile(path); // one per served file (and generation)
 * app.get("/lines", async (c) => {
 *   const q = parseLinesQuery(new URL(c.req.url).searchParams);
 *   if ("error" in q) return c.text(q.error, 400);
 *   const o = await openForRead(path, name, root); // src/raw.ts: the same refusals as /raw
 *   if (o instanceof Response) return o;
 *   try {
 *     return c.json(await log.lines(o, q.query, { lastMod, signal: c.req.raw.signal }));
 *   } catch (e) {
 *     const s = scanErrorStatus(e);
 *     if (!s) throw e;
 *     return c.text(s.reason, s.status, s.retryAfterS ? { "Retry-After": String(s.retryAfterS) } : {});
 *   } finally {
 *     await o.fh.close();
 *   }
 * });
 * ```
 * @module
 */
import { open } from "node:fs/promises";
import type { FileState, IndexHandle } from "./_file.ts";
import { IndexPendingError, LineIndex, type LineIndexOptions } from "./line_index.ts";
import { LineReader, type LinesAnswer, type LinesQuery, readLines } from "./lines.ts";
import { findTime, NoTimestampsError, type TimeAnswer } from "./time.ts";

/**
 * An unindexed tail up to this size is indexed before a request is answered
 * (a few ms), so a growing log's answers keep their `total` rather than
 * flicker to null at every append.
 */
export const CATCH_UP_BYTES = 8 * 1024 * 1024;
/** How long a request waits for that catch-up at most. */
export const CATCH_UP_MS = 1_000;
/** How long {@link LogFile.lineOf} waits for the index by default (a search sends progress meanwhile). */
export const LINE_OF_WAIT_MS = 10 * 60_000;

/** A file a route opened for one request: the handle and its descriptor's stat (as `openForRead` in src/raw.ts gives it). */
export interface OpenedState extends FileState {
  fh: IndexHandle;
  mtimeMs: number;
}

/** Options of a {@link LogFile}. */
export interface LogFileOptions {
  /**
   * Opens the file for the index's builds on the main thread. Default:
   * `open(path, "r")`. Under `--dir`, pass one that refuses what
   * `/raw/{name}` refuses. (A build in a worker opens `path` itself and
   * counts it only if it is the device and inode the route opened.)
   */
  open?: () => Promise<IndexHandle>;
  index?: LineIndexOptions;
}

/** Per-request options. */
export interface RequestOptions {
  /** The version token of the state read (the watcher's `lastMod`); default: the mtime in ns as hex. */
  lastMod?: string;
  signal?: AbortSignal;
  /** How long a question past the indexed part waits (default: the index's, 10 s). */
  waitMs?: number;
}

/** The mtime (ms) as the hex ns a `lastMod` starts with, for an answer whose caller has no token. */
export function mtimeToken(mtimeMs: number): string {
  return (BigInt(Math.trunc(mtimeMs)) * 1_000_000n).toString(16);
}

/**
 * What a scan error is as an HTTP answer: {@link IndexPendingError} 503 with
 * `Retry-After`, {@link NoTimestampsError} 422; null for anything else (the
 * route's usual error path: a read error is a 503 with the reason there).
 */
export function scanErrorStatus(e: unknown): { status: 503 | 422; reason: string; retryAfterS?: number } | null {
  if (e instanceof IndexPendingError) {
    return { status: 503, reason: `Service Unavailable: ${e.message}`, retryAfterS: e.retryAfterS };
  }
  if (e instanceof NoTimestampsError) return { status: 422, reason: `Unprocessable Content: ${e.message}` };
  return null;
}

/** One file's line index, and the `/lines` and `/time` answers over it (see the module comment). */
export class LogFile {
  /** The file's line index: the owner may also tell it about changes ({@link LogFile.observe}). */
  readonly index: LineIndex;

  constructor(path: string, options: LogFileOptions = {}) {
    this.index = new LineIndex(options.open ?? (() => open(path, "r")), { path, ...options.index });
  }

  /**
   * The owner's news of the file (the watcher after an append, a truncation,
   * a rotation): the index is extended, or dropped and rebuilt on next need.
   */
  observe(state: FileState): void {
    this.index.sync(state);
  }

  /** After a rewrite the owner noticed (same inode, not an append): index again from the start. */
  rewritten(state: FileState): void {
    this.index.reset();
    this.index.sync(state);
  }

  /**
   * Tells the index the request's state, starts it (first need) and lets it
   * catch up with a short unindexed tail. A size below what is indexed is
   * checked with a second stat before the index is dropped: a request that
   * stat'ed before another one's append is late, not a truncation. Returns
   * the size to read up to and the index's generation (see {@link #check}).
   */
  async #prepare(file: OpenedState, signal?: AbortSignal): Promise<{ size: number; generation: number }> {
    const index = this.index;
    const same = () => index.dev === file.dev && index.ino === file.ino;
    let size = file.size;
    if (same() && size < index.indexed) size = Math.max(size, Number((await file.fh.stat()).size));
    index.sync({ dev: file.dev, ino: file.ino, size });
    index.start();
    if (size - index.indexed <= CATCH_UP_BYTES) {
      await index.waitFor(() => index.indexed >= index.size, CATCH_UP_MS, signal).catch(() => {});
    }
    // Another request may have seen the file grow since: read as far as the index knows it, so `total` fits `size`.
    return { size: same() ? Math.max(size, index.size) : size, generation: index.generation };
  }

  /** The `/lines` answer for `query` from `file` (see src/scan/lines.ts). Throws {@link IndexPendingError}. */
  async lines(file: OpenedState, query: LinesQuery, options: RequestOptions = {}): Promise<LinesAnswer> {
    const { size, generation } = await this.#prepare(file, options.signal);
    const answer = await readLines(file.fh, size, this.index, query, {
      lastMod: options.lastMod ?? mtimeToken(file.mtimeMs),
      waitMs: options.waitMs,
      signal: options.signal,
    });
    this.#check(file, generation);
    return answer;
  }

  /**
   * Numbers from the index are this file's only if the index still is, and
   * was not dropped meanwhile: a request that opened the file before a
   * rotation can meet an index that another request has moved to the new
   * file. Rare; asking again is right.
   */
  #check(file: OpenedState, generation: number): void {
    const index = this.index;
    if (index.generation !== generation || index.dev !== file.dev || index.ino !== file.ino) {
      throw new IndexPendingError("The file was replaced while it was read", 1);
    }
  }

  /**
   * The `/time` answer for `t` (epoch ms) from `file`. The line's number
   * waits for the index like a `/lines?line=` question, and is null rather
   * than an error when the wait runs out (the offset is the answer). Throws
   * {@link NoTimestampsError}.
   */
  async time(file: OpenedState, t: number, options: RequestOptions = {}): Promise<TimeAnswer> {
    const { size, generation } = await this.#prepare(file, options.signal);
    const found = await findTime(file.fh, size, this.index, t, { mtimeMs: file.mtimeMs });
    if (!found) return { n: null, offset: null, t: null };
    const index = this.index;
    const reached = await index.waitFor(() => index.indexed >= found.offset, options.waitMs, options.signal)
      .then(() => true, (e) => {
        if (e instanceof IndexPendingError) return false;
        throw e;
      });
    const n = reached ? await new LineReader(file.fh, size, index).lineNumberAt(found.offset) : null;
    this.#check(file, generation);
    return { n, offset: found.offset, t: new Date(found.t).toISOString() };
  }

  /**
   * The number of the line starting at `offset` (a line start, or the size)
   * of `file`, once the index has reached it: what a search numbers its
   * matches from (src/scan/search.ts `lineOf`), so a search from the end of
   * a large file does not count every newline before it. Waits up to
   * `waitMs` (default {@link LINE_OF_WAIT_MS}: a search has nothing better
   * to do than wait for the index, which counts faster than it would), then
   * throws {@link IndexPendingError}, as it does when the index failed or
   * moved to a newer file meanwhile (the search then counts for itself).
   */
  async lineOf(file: OpenedState, offset: number, options: RequestOptions = {}): Promise<number> {
    const { size, generation } = await this.#prepare(file, options.signal);
    const index = this.index;
    await index.waitFor(
      () => index.indexed >= offset || index.complete,
      options.waitMs ?? LINE_OF_WAIT_MS,
      options.signal,
    );
    this.#check(file, generation);
    const n = await new LineReader(file.fh, size, index).lineNumberAt(offset);
    this.#check(file, generation);
    if (n === null) throw new IndexPendingError("The line index has not reached the offset", 1);
    return n;
  }

  /** Stops the index's build; safe to call twice. */
  dispose(): void {
    this.index.dispose();
  }
}
