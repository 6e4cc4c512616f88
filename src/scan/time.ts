/**
 * `GET /time`: the first line stamped at or after a moment, found by binary
 * search over byte offsets, in a file of any size.
 *
 * Stamps recognised ({@link parseStamp}):
 * - **RFC 3339 / ISO 8601** at the start of a line (after `[`, `<PRI>` or
 *   `<PRI>1 ` of RFC 5424 syslog): `2026-12-07T00:11:49.123+01:00`, `T` or a
 *   space, a fraction after `.` or `,`, an offset or none (none = UTC);
 *   also `2026/12/07 00:11:49` (Go's `log`).
 * - **syslog** (RFC 3164) at the start: `Dec  7 00:11:49`, in the server's
 *   local time zone (such stamps name none); the year is the file's mtime's,
 *   or the one before for a date after the mtime (a file written across New
 *   Year holds December's lines, then January's).
 * - **common/combined log** anywhere in the line: `[07/Dec/2026:00:11:49 +0000]`.
 * - **JSON lines** with `time`, `ts`, `timestamp` or `@timestamp`: an
 *   RFC 3339 string or epoch seconds, ms, µs or ns (by magnitude).
 *
 * One format is chosen per file ({@link detectFormat}, from its first and
 * last lines) so a stamp quoted in a message does not count. The search
 * assumes stamps do not go backwards (by much): each probe snaps to the next
 * line start and takes the first stamped line there, skipping unstamped ones
 * (a stack trace) for at most {@link PROBE_SPAN} bytes.
 * @module
 */
import type { ReadHandle } from "./_file.ts";
import type { LineIndex } from "./line_index.ts";
import { LINE_CUT, LineReader } from "./lines.ts";
import type { TimeAnswer } from "../shared/answers.ts";

/** A stamp format {@link parseStamp} knows. */
export type StampFormat = "iso" | "syslog" | "clf" | "json";

/** What a stamp without a year needs: the file's mtime (ms since the epoch). */
export interface StampContext {
  mtimeMs: number;
}

/** The file has no stamps {@link parseStamp} recognises: a route answers 422 with the message. */
export class NoTimestampsError extends Error {
  override name = "NoTimestampsError";
}

/** The answer to `GET /time`, one shape for the server and the page (src/shared/answers.ts). */
export type { TimeAnswer };

/** How far a probe reads past its point for a stamped line before it calls the stretch unstamped. */
export const PROBE_SPAN = 1 << 20;
/** The search reads the last stretch line by line once it is this short. */
const LAST_STRETCH = 64 * 1024;
/** Bytes sampled at each end of the file to choose the format. */
const SAMPLE = 64 * 1024;
/** Characters of a line looked at for a stamp (a JSON line is parsed whole up to LINE_CUT). */
const LOOK = 1024;

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};
const MON = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const ISO_BODY = String.raw`(\d{4})([-/])(\d{2})\2(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?` +
  String.raw` ?(Z|z|[+-]\d{2}(?::?\d{2})?)?`;
const ISO_START = new RegExp(String.raw`^\s*(?:<\d{1,3}>(?:\d{1,2} )?)?\[?` + ISO_BODY);
const ISO_WHOLE = new RegExp(String.raw`^\s*` + ISO_BODY + String.raw`\s*$`);
const SYSLOG = new RegExp(
  String.raw`^\s*(?:<\d{1,3}>)?` + MON + String.raw` ([ \d]?\d) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\b`,
);
const CLF = new RegExp(
  String.raw`\[(\d{2})/` + MON + String.raw`/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?: ([+-])(\d{2})(\d{2}))?\]`,
);
const JSON_KEYS = ["@timestamp", "timestamp", "time", "ts"] as const;
const JSON_KEY = /"(@timestamp|timestamp|time|ts)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)/;

/** Epoch ms from a calendar time in UTC and an offset in minutes east; NaN when a field is out of range. */
function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, east: number): number {
  if (mo < 0 || mo > 11 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NaN;
  const t = Date.UTC(y, mo, d, h, mi, s, ms);
  // Day 31 of a 30-day month rolls over into the next: not a date (a leap second's 60 rolls only the minute).
  return new Date(Date.UTC(y, mo, d)).getUTCDate() === d ? t - east * 60_000 : NaN;
}

/** Milliseconds from a fraction's digits ("5" = 500 ms, "123456" = 123 ms). */
const fraction = (f: string | undefined) => (f ? Math.floor(Number("0." + f) * 1000 + 1e-6) : 0);

/** Minutes east of UTC from `Z`, `+01:00`, `+0100`, `-05` (none = UTC). */
function offsetMinutes(z: string | undefined): number {
  if (!z || z === "Z" || z === "z") return 0;
  const sign = z[0] === "-" ? -1 : 1;
  const digits = z.slice(1).replace(":", "");
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0"));
}

function isoFrom(m: RegExpExecArray): number {
  const [, y, , mo, d, h, mi, s, f, z] = m;
  return utc(+y!, +mo! - 1, +d!, +h!, +mi!, s ? +s : 0, fraction(f), offsetMinutes(z));
}

/** Epoch ms from epoch seconds, ms, µs or ns, told apart by magnitude (seconds up to the year 5138). */
export function epochMs(v: number): number {
  const a = Math.abs(v);
  if (a < 1e11) return v * 1000;
  if (a < 1e14) return v;
  if (a < 1e17) return v / 1000;
  return v / 1e6;
}

/** An RFC 3339 / ISO 8601 string as a whole, as a JSON field holds it, or epoch digits; NaN if neither. */
function stampString(v: string): number {
  const m = ISO_WHOLE.exec(v);
  if (m) return isoFrom(m);
  return /^-?\d+(\.\d+)?$/.test(v) ? epochMs(Number(v)) : NaN;
}

function jsonStamp(line: string): number {
  if (!/^\s*\{/.test(line)) return NaN;
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    // A cut or broken line: the first key that looks like one.
    const m = JSON_KEY.exec(line);
    if (!m) return NaN;
    const raw = m[2]!;
    return raw.startsWith('"') ? stampString(JSON.parse(raw)) : epochMs(Number(raw));
  }
  if (typeof obj !== "object" || obj === null) return NaN;
  for (const k of JSON_KEYS) {
    const v = (obj as Record<string, unknown>)[k];
    if (typeof v === "string") return stampString(v);
    if (typeof v === "number" && Number.isFinite(v)) return epochMs(v);
  }
  return NaN;
}

/**
 * A syslog date in the mtime's year in local time, or the year before when
 * that would be more than a day after the mtime.
 */
function syslogStamp(m: RegExpExecArray, ctx: StampContext): number {
  const [, mon, d, h, mi, s, f] = m;
  const year = new Date(ctx.mtimeMs).getFullYear();
  const at = (y: number) => {
    const t = new Date(y, MONTHS[mon!.toLowerCase()]!, +d!, +h!, +mi!, +s!, fraction(f));
    return t.getDate() === +d! ? t.getTime() : NaN;
  };
  const t = at(year);
  return t > ctx.mtimeMs + 86_400_000 ? at(year - 1) : t;
}

/**
 * The stamp of `line` in `format`, as epoch ms, or NaN when it has none.
 * @example
 * ```ts
 * parseStampAs("iso", "2026-12-07 00:11:49,250 INFO started", ctx);  // Date.UTC(2026, 11, 7, 0, 11, 49, 250)
 * parseStampAs("clf", '1.2.3.4 - - [07/Dec/2026:00:11:49 +0100] "GET / HTTP/1.1" 200 5', ctx);
 * ```
 */
export function parseStampAs(format: StampFormat, line: string, ctx: StampContext): number {
  const head = line.length > LOOK && format !== "json" ? line.slice(0, LOOK) : line;
  switch (format) {
    case "iso": {
      const m = ISO_START.exec(head);
      return m ? isoFrom(m) : NaN;
    }
    case "syslog": {
      const m = SYSLOG.exec(head);
      return m ? syslogStamp(m, ctx) : NaN;
    }
    case "clf": {
      const m = CLF.exec(head);
      if (!m) return NaN;
      const [, d, mon, y, h, mi, s, sign, oh, om] = m;
      const east = sign ? (sign === "-" ? -1 : 1) * (+oh! * 60 + +om!) : 0;
      return utc(+y!, MONTHS[mon!.toLowerCase()]!, +d!, +h!, +mi!, +s!, 0, east);
    }
    case "json":
      return jsonStamp(head);
  }
}

/** Formats in the order a line is tried: a JSON line first, then stamps at the start, then CLF anywhere. */
const FORMATS: readonly StampFormat[] = ["json", "iso", "syslog", "clf"];

/** The first format `line` has a stamp in, and the stamp; null when none. */
export function parseStamp(line: string, ctx: StampContext): { format: StampFormat; t: number } | null {
  for (const format of FORMATS) {
    const t = parseStampAs(format, line, ctx);
    if (!Number.isNaN(t)) return { format, t };
  }
  return null;
}

/** The format most of `lines` are stamped in, or null when none is. */
export function detectFormat(lines: Iterable<string>, ctx: StampContext): StampFormat | null {
  const votes = new Map<StampFormat, number>();
  for (const line of lines) {
    const p = parseStamp(line, ctx);
    if (p) votes.set(p.format, (votes.get(p.format) ?? 0) + 1);
  }
  let best: StampFormat | null = null;
  for (const f of FORMATS) if ((votes.get(f) ?? 0) > (best ? votes.get(best)! : 0)) best = f;
  return best;
}

/**
 * Reads a `/time` query's `t`: RFC 3339 (or ISO 8601 as {@link parseStamp}
 * reads it; no offset = UTC) or epoch milliseconds. Returns epoch ms, or the
 * reason a 400 gives.
 */
export function parseTimeQuery(v: string | null): { t: number } | { error: string } {
  if (v === null || v === "") return { error: `Cannot find a time: give "t", RFC 3339 or epoch milliseconds` };
  if (/^-?\d{1,16}$/.test(v)) return { t: Number(v) };
  const m = ISO_WHOLE.exec(v);
  const t = m ? isoFrom(m) : NaN;
  if (Number.isNaN(t)) {
    return {
      error: `Cannot find a time: "t" must be RFC 3339 (2026-12-07T00:11:49Z) or epoch milliseconds, got "${v}"`,
    };
  }
  return { t };
}

/** A line found by {@link findTime}: where it starts and its stamp (epoch ms). */
export interface TimeFound {
  offset: number;
  t: number;
}

/**
 * The first line of the file (open as `fh`, `size` bytes, last modified at
 * `ctx.mtimeMs`) stamped at or after `t` (epoch ms), or null when every
 * stamped line is earlier. Throws {@link NoTimestampsError} when neither
 * the file's first nor last 64 KiB has a stamp it recognises.
 *
 * Binary search over byte offsets keeping two facts true: every stamped line
 * starting before `lo` is earlier than `t`, and the first stamped line at or
 * after `hi` is not (or `hi` is the end). A probe at the middle snaps to the
 * next line start and takes the first stamped line within
 * {@link PROBE_SPAN}; when that stretch has none the search goes on before
 * the probe (the last step reads forward from `lo` until it finds the line,
 * so a long unstamped stretch costs time, not the answer).
 */
export async function findTime(
  fh: ReadHandle,
  size: number,
  index: LineIndex,
  t: number,
  ctx: StampContext,
): Promise<TimeFound | null> {
  const r = new LineReader(fh, size, index);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const text = (head: Uint8Array, length: number) => decoder.decode(head.subarray(0, Math.min(length, LINE_CUT)));

  const sample: string[] = [];
  const collect = async (from: number, until: number) => {
    const start = await r.nextLineStart(from);
    if (start === null) return;
    await r.walk(start, null, until, (_o, head, length) => (sample.push(text(head, length)), true));
  };
  await collect(0, Math.min(size, SAMPLE));
  if (size > SAMPLE) await collect(Math.max(SAMPLE, size - SAMPLE), size);
  const format = detectFormat(sample, ctx);
  if (!format) {
    throw new NoTimestampsError(
      "No timestamps: no line at the file's start or end begins with an RFC 3339 or syslog time, " +
        "holds a [dd/Mon/yyyy:hh:mm:ss zone] stamp or is JSON with time, ts, timestamp or @timestamp",
    );
  }

  /** The first stamped line starting in [from, until): its offset, stamp and where the next line starts. */
  const firstStamped = async (from: number, until: number) => {
    const start = await r.nextLineStart(from);
    let found: { offset: number; t: number; next: number } | null = null;
    if (start === null || start >= until) return null;
    await r.walk(start, null, until, (offset, head, length, next) => {
      const s = parseStampAs(format, text(head, length), ctx);
      if (Number.isNaN(s)) return true;
      found = { offset, t: s, next };
      return false;
    });
    return found as { offset: number; t: number; next: number } | null;
  };

  let lo = 0;
  let hi = size;
  while (hi - lo > LAST_STRETCH) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const p = await firstStamped(mid, Math.min(hi, mid + PROBE_SPAN));
    if (p === null || p.t >= t) hi = mid;
    else lo = p.next;
  }
  // The last stretch, forward from lo: stamps that are not in order are taken as they come.
  let answer: TimeFound | null = null;
  const start = await r.nextLineStart(lo);
  if (start !== null) {
    await r.walk(start, null, size, (offset, head, length) => {
      const s = parseStampAs(format, text(head, length), ctx);
      if (Number.isNaN(s) || s < t) return true;
      answer = { offset, t: s };
      return false;
    });
  }
  return answer;
}
