/**
 * Rotated generations compressed by logrotate (`NAME.2.gz`): their lines,
 * decompressed as a stream (node:zlib, on both runtimes), searched and read
 * by number without ever holding the whole content.
 *
 * A `.gz` can only be read forwards. A backward (newest first) search reads
 * it all and keeps only the last `limit` matches (a ring), then sends them
 * newest first; the ring keeps at most {@link GZ_RING_BYTES} of text, and
 * past that keeps positions only and reads the file a second time for their
 * text. Offsets are in the decompressed content; progress counts compressed
 * bytes read, of the compressed size (the decompressed size is unknown until
 * the end).
 * @module
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import {
  compileMatcher,
  LINE_CUT,
  type LineMatcher,
  LineScanner,
  lineText,
  PROGRESS_MS,
  type SearchEvent,
  type SearchMatch,
  type SearchQuery,
  SLICE_MS,
  WINDOW,
} from "./search.ts";
import { setImmediate } from "node:timers";

/** Text a backward `.gz` search holds at most before it switches to positions and a second pass. */
export const GZ_RING_BYTES = 16 * 1024 * 1024;
const NL = 10;

/** Whether a name is a gzip file by its name (`.gz`). */
export const isGz = (name: string): boolean => name.endsWith(".gz");

/**
 * The decompressed bytes of the gzip file at `path`, in chunks, with
 * `compressed()` telling how many compressed bytes were read so far. Stops
 * (and closes the file) when `signal` aborts or the consumer stops.
 */
export function gunzipChunks(
  path: string,
  signal: AbortSignal,
): { chunks: AsyncIterable<Uint8Array>; compressed: () => number } {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  file.on("error", (e) => gunzip.destroy(e));
  file.pipe(gunzip);
  const onAbort = () => {
    file.destroy();
    gunzip.destroy();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const c of gunzip) yield c as Uint8Array;
    } finally {
      signal.removeEventListener("abort", onAbort);
      file.destroy();
      gunzip.destroy();
    }
  }
  return { chunks: chunks(), compressed: () => file.bytesRead };
}

/** A line as the forward pass sees it: complete, with its number and offset. */
interface GzLine {
  n: number;
  offset: number;
  /** The line's bytes (cut at LINE_CUT + a few, for the text). */
  bytes: Uint8Array;
  start: number;
  end: number;
  /** The whole line's length (it may exceed what `bytes` holds). */
  length: number;
}

/**
 * Runs over the decompressed lines of `path`, calling `onMatch` for each line
 * the matcher accepts (or every line when `matcher` is null), in order.
 * `onMatch` returns true to stop. Yields the CPU every {@link SLICE_MS} and
 * calls `onProgress` every {@link PROGRESS_MS}.
 */
async function eachLine(
  path: string,
  matcher: LineMatcher | null,
  signal: AbortSignal,
  onMatch: (l: GzLine) => boolean | void,
  onProgress: (compressed: number) => void = () => {},
  onChunk: () => Promise<void> | void = () => {},
): Promise<{ lines: number; bytes: number; stopped: boolean; compressed: number }> {
  // Without a matcher every line "matches": a needle-less matcher that accepts all.
  const m: LineMatcher = matcher ?? { needles: null, fold: false, exact: true, test: () => true };
  const scan = new LineScanner(m, WINDOW);
  const hay = scan.hay;
  const { chunks, compressed } = gunzipChunks(path, signal);
  let fill = 0; // bytes in hay
  let base = 0; // decompressed offset of hay[0]
  let line = 1; // number of the line starting at hay[0]
  let slice = performance.now(), lastProgress = performance.now();
  // A line longer than the window: its start, whether it matched, its head and length so far.
  let long: { n: number; offset: number; hit: boolean; head: Uint8Array; length: number } | null = null;
  const everyLine = matcher === null;

  const process = (end: number, final: boolean): boolean => {
    // hay[0, end) holds whole lines (the last one may lack its \n when final).
    scan.finder.reset();
    let counted = 0;
    if (everyLine) {
      let s = 0;
      while (s < end) {
        let e = hay.indexOf(NL, s);
        if (e < 0 || e >= end) e = end;
        line += scan.finder.count(counted, s);
        counted = s;
        if (onMatch({ n: line, offset: base + s, bytes: hay, start: s, end: e, length: e - s })) return true;
        s = e + 1;
      }
    } else {
      for (const ls of scan.matches(0, end)) {
        if (ls < 0) continue;
        line += scan.finder.count(counted, ls);
        counted = ls;
        const le = scan.lineEnd;
        if (onMatch({ n: line, offset: base + ls, bytes: hay, start: ls, end: le, length: le - ls })) return true;
      }
    }
    line += scan.finder.count(counted, end);
    if (!final) {
      hay.copyWithin(0, end, fill);
      fill -= end;
      base += end;
    }
    return false;
  };

  for await (const chunk of chunks) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, hay.length - fill);
      hay.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill < hay.length) continue;
      if (long === null) {
        const last = hay.lastIndexOf(NL, fill - 1);
        if (last >= 0) {
          if (process(last + 1, false)) return { lines: line, bytes: base, stopped: true, compressed: compressed() };
          continue;
        }
        // A whole window without a newline: a long line starts at hay[0].
        long = { n: line, offset: base, hit: false, head: hay.slice(0, LINE_CUT + 4), length: 0 };
        scan.finder.reset();
        for (const ls of scan.matches(0, fill)) if (ls >= 0) long.hit = true;
      } else {
        const nl = hay.indexOf(NL);
        if (scan.exact && !long.hit) {
          scan.finder.reset();
          long.hit = scan.finder.find(0, nl < 0 ? fill : nl) >= 0;
        }
        if (nl >= 0) {
          long.length += nl;
          if (long.hit && onMatch(longLine(long))) {
            return { lines: line, bytes: base, stopped: true, compressed: compressed() };
          }
          long = null;
          line++;
          hay.copyWithin(0, nl + 1, fill);
          fill -= nl + 1;
          base += nl + 1;
          continue;
        }
      }
      // Keep a needle's length of overlap so a literal across the cut is still found.
      const keep = Math.min(fill, 255);
      long.length += fill - keep;
      hay.copyWithin(0, fill - keep, fill);
      base += fill - keep;
      fill = keep;
    }
    if (performance.now() - slice >= SLICE_MS) {
      await new Promise<void>((r) => setImmediate(r));
      slice = performance.now();
    }
    if (performance.now() - lastProgress >= PROGRESS_MS) {
      lastProgress = performance.now();
      onProgress(compressed());
    }
    await onChunk();
    if (signal.aborted) return { lines: line, bytes: base + fill, stopped: true, compressed: compressed() };
  }
  if (long !== null) {
    long.length += fill;
    if (long.hit && onMatch(longLine(long))) {
      return { lines: line, bytes: base + fill, stopped: true, compressed: compressed() };
    }
    return { lines: line, bytes: base + fill, stopped: false, compressed: compressed() };
  }
  if (fill > 0 && process(fill, true)) {
    return { lines: line, bytes: base + fill, stopped: true, compressed: compressed() };
  }
  // `line` counts the line after the last newline; a file ending in \n has one line fewer.
  const total = fill > 0 && hay[fill - 1] !== NL ? line : line - 1;
  return { lines: total, bytes: base + fill, stopped: false, compressed: compressed() };
}

function longLine(l: { n: number; offset: number; head: Uint8Array; length: number }): GzLine {
  return { n: l.n, offset: l.offset, bytes: l.head, start: 0, end: l.head.length, length: l.length };
}

function toMatch(l: GzLine, name: string | undefined): SearchMatch {
  const m: SearchMatch = { n: l.n, offset: l.offset, ...lineText(l.bytes, l.start, l.end) };
  if (l.length > LINE_CUT) Object.assign(m, { cut: true, bytes: l.length });
  if (name !== undefined) m.file = name;
  return m;
}

/**
 * Searches a `.gz` file's decompressed lines: the same events as
 * `searchFile` (offsets in the decompressed content; `scanned`/`size` in
 * compressed bytes). Forward from `from`, or newest first before `from`.
 */
export async function* searchGz(
  file: { path: string; name?: string },
  query: SearchQuery,
  signal: AbortSignal,
  matcher: LineMatcher = compileMatcher(query),
): AsyncGenerator<SearchEvent> {
  let size = 0;
  try {
    size = (await stat(file.path)).size;
  } catch (e) {
    yield {
      done: true,
      matches: 0,
      scanned: 0,
      error: `Cannot open "${file.name ?? file.path}": ${(e as Error).message}`,
    };
    return;
  }
  const from = query.from;
  // The pass stops when the caller aborts or stops reading this generator.
  const inner = new AbortController();
  const stop = () => {
    inner.abort();
    waiting.space?.();
  };
  signal.addEventListener("abort", stop, { once: true });
  // The pass runs beside this generator and hands events over through a
  // short queue: it waits while the consumer is behind (bounded memory), and
  // progress goes out while a backward pass is still collecting.
  const queue: SearchEvent[] = [];
  // Who waits: the generator for events (wake), the pass for room (space).
  const waiting: { wake: (() => void) | null; space: (() => void) | null } = { wake: null, space: null };
  const push = (ev: SearchEvent) => {
    queue.push(ev);
    waiting.wake?.();
  };
  const roomLeft = () => queue.length < 64 ? undefined : new Promise<void>((r) => waiting.space = r);
  let matches = 0, seen = 0, scanned = 0;
  let next: number | undefined;
  const progress = (c: number) => push({ scanned: c, size });
  const ring: (SearchMatch | { n: number; offset: number })[] = [];
  const pass = async () => {
    if (query.dir === "fwd") {
      const r = await eachLine(
        file.path,
        matcher,
        inner.signal,
        (l) => {
          if (from !== null && l.offset < from) return false;
          push(toMatch(l, file.name));
          if (++matches >= query.limit) {
            next = l.offset + l.length + 1;
            return true;
          }
        },
        progress,
        roomLeft,
      );
      scanned = r.compressed;
      return;
    }
    // Backward: keep the last `limit` matches before `from`, text while it fits.
    let textBytes = 0, textless = false;
    const r = await eachLine(
      file.path,
      matcher,
      inner.signal,
      (l) => {
        if (from !== null && l.offset >= from) return true;
        seen++;
        if (textless) ring.push({ n: l.n, offset: l.offset });
        else {
          const m = toMatch(l, file.name);
          textBytes += m.text.length;
          ring.push(m);
          if (textBytes > GZ_RING_BYTES) {
            textless = true;
            for (let k = 0; k < ring.length; k++) ring[k] = { n: ring[k]!.n, offset: ring[k]!.offset };
          }
        }
        if (ring.length > query.limit) {
          const dropped = ring.shift()!;
          if ("text" in dropped) textBytes -= dropped.text.length;
        }
      },
      progress,
      roomLeft,
    );
    scanned = r.compressed;
    if (textless && ring.length > 0 && !inner.signal.aborted) {
      // Second pass: the text of the kept lines only.
      const want = new Map(ring.map((r, k) => [r.offset, k]));
      const last = ring[ring.length - 1]!.offset;
      await eachLine(
        file.path,
        matcher,
        inner.signal,
        (l) => {
          const k = want.get(l.offset);
          if (k !== undefined) ring[k] = toMatch(l, file.name);
          return l.offset >= last;
        },
        progress,
        roomLeft,
      );
    }
  };
  let finished = false, failure: unknown = null;
  try {
    const run = pass().catch((e) => failure = e).finally(() => {
      finished = true;
      waiting.wake?.();
    });
    for (;;) {
      while (queue.length) {
        yield queue.shift()!;
        if (queue.length < 64) waiting.space?.();
      }
      if (finished) break;
      await new Promise<void>((r) => waiting.wake = r);
      waiting.wake = null;
    }
    await run;
    if (signal.aborted) return;
    if (failure) {
      yield { done: true, matches, scanned: 0, error: (failure as Error).message };
      return;
    }
    if (query.dir === "back") {
      for (let k = ring.length - 1; k >= 0; k--) yield ring[k] as SearchMatch;
      matches = ring.length;
      if (seen > ring.length && ring[0]!.offset > 0) next = ring[0]!.offset;
    }
    yield { done: true, matches, scanned, ...(next !== undefined ? { next } : {}) };
  } finally {
    signal.removeEventListener("abort", stop);
    stop();
  }
}

/** Lines of a `.gz` file by number, as `/lines` answers them, with its line count. */
export interface GzLines {
  /** The decompressed size. */
  size: number;
  /** The number of lines. */
  total: number;
  lines: { n: number; offset: number; text: string; cut?: true; bytes?: number }[];
}

/**
 * Lines `line`..`line+count-1` (1-based) of a `.gz` file, or with
 * `line: "end"` the last `count`; the whole file is decompressed each time
 * (meant for generations small enough to read in a moment; there is no index
 * into a gzip stream).
 */
export async function gzLines(
  path: string,
  line: number | "end",
  count: number,
  signal: AbortSignal,
): Promise<GzLines> {
  const out: GzLines["lines"] = [];
  const r = await eachLine(path, null, signal, (l) => {
    if (line === "end") {
      out.push(toMatch(l, undefined));
      if (out.length > count) out.shift();
      return false;
    }
    if (l.n >= line + count) return true;
    if (l.n >= line) out.push(toMatch(l, undefined));
  });
  if (!r.stopped) return { size: r.bytes, total: r.lines, lines: out };
  // Stopped early: count the rest for `total`.
  const all = await eachLine(path, null, signal, () => {});
  return { size: all.bytes, total: all.lines, lines: out };
}
