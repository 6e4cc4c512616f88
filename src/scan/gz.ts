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
import { open, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { IndexHandle } from "./_file.ts";
import type { LineOut, LinesQuery } from "./lines.ts";
import { detectFormat, NoTimestampsError, parseStampAs, type StampContext, type TimeFound } from "./time.ts";
import {
  breathe,
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

/** Text a backward `.gz` search holds at most before it switches to positions and a second pass. */
export const GZ_RING_BYTES = 16 * 1024 * 1024;
const NL = 10;

/** Whether a name is a gzip file by its name (`.gz`). */
export const isGz = (name: string): boolean => name.endsWith(".gz");

/**
 * A `.gz` file to read: its path, and how to open it (default
 * `open(path, "r")`; a server passes its guarded open, src/raw.ts).
 */
export interface GzSource {
  path: string;
  open?: () => Promise<IndexHandle>;
}

/** Compressed bytes read at a time. */
const GZ_READ = 1 << 20;

/**
 * The decompressed bytes of the gzip file `source`, in chunks, with
 * `compressed()` telling how many compressed bytes were read so far. Stops
 * (and closes the file) when `signal` aborts or the consumer stops. The file
 * is read with positioned reads from the handle `source.open` gives, so it
 * is opened with the same checks as every other read.
 */
export function gunzipChunks(
  source: string | GzSource,
  signal: AbortSignal,
): { chunks: AsyncIterable<Uint8Array>; compressed: () => number } {
  const src = typeof source === "string" ? { path: source } : source;
  let read = 0;
  async function* compressedChunks(fh: IndexHandle): AsyncGenerator<Uint8Array> {
    for (let pos = 0;;) {
      const buf = new Uint8Array(GZ_READ);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      read = pos;
      yield buf.subarray(0, bytesRead);
    }
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const fh = await (src.open ? src.open() : open(src.path, "r"));
    // One chunk read ahead at most: the decompression sets the pace.
    const input = Readable.from(compressedChunks(fh), { highWaterMark: 1 });
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    input.on("error", (e) => gunzip.destroy(e));
    input.pipe(gunzip);
    const onAbort = () => {
      input.destroy();
      gunzip.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const c of gunzip) yield c as Uint8Array;
    } finally {
      signal.removeEventListener("abort", onAbort);
      input.destroy();
      gunzip.destroy();
      await fh.close().catch(() => {});
    }
  }
  return { chunks: chunks(), compressed: () => read };
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
  path: string | GzSource,
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
      await breathe();
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
  file: GzSource & { name?: string; size?: number },
  query: SearchQuery,
  signal: AbortSignal,
  matcher: LineMatcher = compileMatcher(query),
): AsyncGenerator<SearchEvent> {
  let size = 0;
  try {
    size = file.size ?? (await stat(file.path)).size;
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
        file,
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
      file,
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
        file,
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

/** Lines of a `.gz` file, as `/lines` answers them, with its line count. */
export interface GzLines {
  /** The decompressed size. */
  size: number;
  /** The number of lines. */
  total: number;
  lines: LineOut[];
}

/** Text one `.gz` answer carries at most, as `/lines` of a plain file (src/scan/lines.ts, `ANSWER_BUDGET`). */
const GZ_ANSWER_BUDGET = 8 * 1024 * 1024;

/**
 * The lines a `/lines` query asks of a `.gz` file (src/scan/lines.ts), with
 * its line count; offsets are in the decompressed content. The whole file is
 * decompressed each time (meant for generations small enough to read in a
 * moment; there is no index into a gzip stream). Like a plain file's answer
 * it stops at 8 MiB of text: a query that reads forward keeps its first
 * lines, one that reads back (`end`, a negative count) its last.
 */
export async function gzLines(source: string | GzSource, query: LinesQuery, signal: AbortSignal): Promise<GzLines> {
  let out: LineOut[] = [];
  let text = 0;
  // Which lines are wanted: a forward run from a first line, or the last |count| before a bound.
  let first: (l: GzLine) => boolean;
  let want: number;
  let before: ((l: GzLine) => boolean) | null = null;
  if (query.by === "end") {
    want = query.count;
    before = () => true;
    first = () => false;
  } else if (query.by === "line") {
    const { line, count } = query;
    const from = count > 0 ? line : Math.max(1, line + count + 1);
    want = count > 0 ? count : line - from + 1;
    first = (l) => l.n >= from;
  } else if (query.count > 0) {
    const { offset } = query;
    want = query.count;
    first = (l) => l.offset >= offset;
  } else {
    const { offset } = query;
    want = -query.count;
    before = (l) => l.offset < offset;
    first = () => false;
  }
  let taking = false;
  const r = await eachLine(source, null, signal, (l) => {
    if (before) {
      if (!before(l)) return;
      const m = toMatch(l, undefined);
      out.push(m);
      text += m.text.length;
      // Keep the last `want` lines within the budget; trim in batches, not a shift per line.
      if (out.length >= 2 * want || text > 2 * GZ_ANSWER_BUDGET) {
        out = trimFront(out, want);
        text = out.reduce((a, x) => a + x.text.length, 0);
      }
      return;
    }
    if (!taking && first(l)) taking = true;
    if (!taking || out.length >= want || text > GZ_ANSWER_BUDGET) return;
    const m = toMatch(l, undefined);
    out.push(m);
    text += m.text.length;
  });
  if (before) out = trimFront(out, want);
  return { size: r.bytes, total: r.lines, lines: out };
}

/** The last `want` of `lines`, fewer when their text passes the answer's budget (at least one). */
function trimFront(lines: LineOut[], want: number): LineOut[] {
  let k = Math.max(0, lines.length - want);
  let text = 0;
  for (let i = lines.length - 1; i >= k; i--) {
    text += lines[i]!.text.length;
    if (text > GZ_ANSWER_BUDGET && i < lines.length - 1) {
      k = i + 1;
      break;
    }
  }
  return lines.slice(k);
}

/** Stamped lines sampled from a `.gz` file's start to choose its stamp format. */
const GZ_SAMPLE_BYTES = 64 * 1024;

/**
 * `/time` of a `.gz` file: the first line stamped at or after `t`, read
 * forward (a gzip stream has no middle to jump to). The format is chosen from
 * the first 64 KiB of lines ({@link NoTimestampsError} when none is
 * stamped). Null when every stamped line is earlier.
 */
export async function gzTime(
  source: string | GzSource,
  t: number,
  ctx: StampContext,
  signal: AbortSignal,
): Promise<(TimeFound & { n: number }) | null> {
  const sample: string[] = [];
  let seen = 0;
  await eachLine(source, null, signal, (l) => {
    const m = toMatch(l, undefined);
    sample.push(m.text);
    seen += l.length + 1;
    return seen >= GZ_SAMPLE_BYTES;
  });
  const format = detectFormat(sample, ctx);
  if (!format) {
    throw new NoTimestampsError(
      "No timestamps: no line at the start of the generation begins with an RFC 3339 or syslog time, " +
        "holds a [dd/Mon/yyyy:hh:mm:ss zone] stamp or is JSON with time, ts, timestamp or @timestamp",
    );
  }
  let found: (TimeFound & { n: number }) | null = null;
  await eachLine(source, null, signal, (l) => {
    const s = parseStampAs(format, toMatch(l, undefined).text, ctx);
    if (Number.isNaN(s) || s < t) return false;
    found = { n: l.n, offset: l.offset, t: s };
    return true;
  });
  return found;
}
