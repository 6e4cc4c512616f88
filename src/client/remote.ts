/**
 * The server's reading routes as the page asks them (docs/protocol.md):
 * `/lines` (lines by number, by byte offset, or from the end), `/time` (the
 * first line at or after a moment) and `/search` (matching lines, streamed
 * as NDJSON). The URLs come from the page's `data-lines`, `data-time` and
 * `data-search` (under --base-path, and `/lines/{name}` for one of several
 * files), never built here from the host. Answers are checked before use:
 * anything malformed is refused rather than drawn wrongly.
 * @module
 */
import type { Line, LinesAnswer, SearchDone, SearchProgress, TimeAnswer } from "../shared/answers.ts";
import { readNdjson } from "./ndjson.ts";

/** One value of a `/search` stream as the page uses it, told apart by `kind`. */
export type SearchEvent =
  | { kind: "match"; line: Line; file?: string }
  | ({ kind: "progress" } & SearchProgress)
  | ({ kind: "done" } & Pick<SearchDone, "matches" | "scanned" | "next" | "error">);

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** A line of an answer, or null when it is not one. */
export function parseLine(v: unknown): Line | null {
  if (!isObject(v) || !isCount(v.offset) || typeof v.text !== "string") return null;
  if (v.n !== null && !(isCount(v.n) && v.n >= 1)) return null;
  const line: Line = { n: v.n as number | null, offset: v.offset, text: v.text };
  if (v.cut === true) {
    line.cut = true;
    if (isCount(v.bytes)) line.bytes = v.bytes;
  }
  return line;
}

/**
 * Checks a `/lines` answer: sizes and counts are whole numbers, lines are in
 * file order. Returns null for anything else.
 * @example
 * ```ts
 * parseLinesAnswer({ size: 6, lastMod: "1", total: 1, lines: [{ n: 1, offset: 0, text: "hello" }] })?.total; // 1
 * ```
 */
export function parseLinesAnswer(v: unknown): LinesAnswer | null {
  if (!isObject(v) || !isCount(v.size) || !Array.isArray(v.lines)) return null;
  if (v.total !== null && !isCount(v.total)) return null;
  const lines: Line[] = [];
  for (const l of v.lines) {
    const line = parseLine(l);
    const prev = lines.at(-1);
    if (!line || (prev && line.offset <= prev.offset)) return null;
    lines.push(line);
  }
  return { size: v.size, lastMod: typeof v.lastMod === "string" ? v.lastMod : "", total: v.total, lines };
}

/** Checks a `/time` answer; null for anything else. */
export function parseTimeAnswer(v: unknown): TimeAnswer | null {
  if (!isObject(v)) return null;
  const n = v.n === null || (isCount(v.n) && v.n >= 1) ? v.n : undefined;
  const offset = v.offset === null || isCount(v.offset) ? v.offset : undefined;
  const t = v.t === null || typeof v.t === "string" ? v.t : undefined;
  if (n === undefined || offset === undefined || t === undefined) return null;
  return { n: n as number | null, offset: offset as number | null, t: t as string | null };
}

/** One value of a `/search` stream as an event; null for anything else. */
export function parseSearchEvent(v: unknown): SearchEvent | null {
  if (!isObject(v)) return null;
  if (v.done === true) {
    if (!isCount(v.matches) || !isCount(v.scanned)) return null;
    const ev: SearchEvent = { kind: "done", matches: v.matches, scanned: v.scanned };
    if (isCount(v.next)) ev.next = v.next;
    if (typeof v.error === "string") ev.error = v.error;
    return ev;
  }
  if ("text" in v) {
    const line = parseLine(v);
    if (!line) return null;
    return typeof v.file === "string" ? { kind: "match", line, file: v.file } : { kind: "match", line };
  }
  if (isCount(v.scanned) && isCount(v.size)) return { kind: "progress", scanned: v.scanned, size: v.size };
  return null;
}

/** Which lines to ask `/lines` for. */
export type LinesQuery =
  | { line: number; count: number }
  | { offset: number; count: number }
  | { end: true; count: number };

/** The most lines one `/lines` answer holds. */
export const MAX_LINES_COUNT = 10_000;

/**
 * The URL of a `/lines` question, `path` being the page's `data-lines`.
 * @example
 * ```ts
 * linesUrl("/logs/lines/app.log", { offset: 4096, count: -200 }); // "/logs/lines/app.log?offset=4096&count=-200"
 * ```
 */
export function linesUrl(path: string, q: LinesQuery): string {
  const count = Math.max(-MAX_LINES_COUNT, Math.min(MAX_LINES_COUNT, Math.trunc(q.count) || 1));
  const where = "end" in q
    ? "end=1"
    : "line" in q
    ? `line=${Math.max(1, Math.floor(q.line))}`
    : `offset=${Math.max(0, Math.floor(q.offset))}`;
  return `${path}?${where}&count=${count}`;
}

/** What the reader typed into the filter box, as a server search. */
export interface SearchAsk {
  q: string;
  regex: boolean;
  matchCase: boolean;
  /** Continue from this byte (a `done`'s `next`), backwards. */
  from?: number;
  limit?: number;
  /** Only lines at this level or worse (`&level=`). */
  level?: string;
}

/**
 * The URL of a `/search`, newest first: `case=1` for match case, `regex=1`
 * for a regular expression (RE2's syntax on the server).
 * @example
 * ```ts
 * searchUrl("/search", { q: "err or", regex: false, matchCase: true }); // "/search?q=err+or&case=1"
 * ```
 */
export function searchUrl(path: string, ask: SearchAsk): string {
  const p = new URLSearchParams({ q: ask.q });
  if (ask.matchCase) p.set("case", "1");
  if (ask.regex) p.set("regex", "1");
  if (ask.from !== undefined) {
    p.set("from", String(ask.from));
    p.set("dir", "back");
  }
  if (ask.limit !== undefined) p.set("limit", String(ask.limit));
  if (ask.level) p.set("level", ask.level);
  return `${path}?${p}`;
}

/** The URL of a `/time` question; `t` is passed as typed (RFC 3339 or epoch ms: the server reads it). */
export function timeUrl(path: string, t: string): string {
  return `${path}?${new URLSearchParams({ t: t.trim() })}`;
}

/** A refusal from the server: its status, its one-line reason, and when to ask again (`Retry-After`). */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(readonly status: number, readonly reason: string, readonly retryAfterMs: number | null) {
    super(reason);
  }
}

/** `Retry-After` (seconds, or an HTTP date) in ms from `now`; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null || header.trim() === "") return null;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The reason a refused response gives: its body's first line, or its status. */
export async function refusal(res: Response): Promise<HttpError> {
  const body = await res.text().catch(() => "");
  const first = body.split("\n", 1)[0]!.trim().slice(0, 300);
  const reason = first || `${res.status} ${res.statusText}`.trim();
  return new HttpError(res.status, reason, retryAfterMs(res.headers.get("retry-after"), Date.now()));
}

/**
 * GETs `url` (same origin: Basic credentials the browser holds go along) and
 * reads its JSON with `parse`. Throws {@link HttpError} for a refusal or an
 * answer that does not parse, and the fetch's own error when cancelled or
 * unreachable.
 */
export async function getJson<T>(url: string, parse: (v: unknown) => T | null, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { signal, cache: "no-store", headers: { Accept: "application/json" } });
  if (!res.ok) throw await refusal(res);
  const v = parse(await res.json().catch(() => null));
  if (v === null) throw new HttpError(res.status, `Cannot read the server's answer from ${url.split("?")[0]}`, null);
  return v;
}

/**
 * The events of a `/search` at `path` for `ask`, each as soon as its line
 * arrives; values that are not events are skipped. Aborting `signal` stops
 * the server's scan (it sees the connection go).
 */
export async function* searchEvents(path: string, ask: SearchAsk, signal: AbortSignal): AsyncGenerator<SearchEvent> {
  const res = await fetch(searchUrl(path, ask), {
    signal,
    cache: "no-store",
    headers: { Accept: "application/x-ndjson" },
  });
  if (!res.ok) throw await refusal(res);
  if (!res.body) throw new HttpError(res.status, "The search answered with no body", null);
  for await (const v of readNdjson(res.body)) {
    const ev = parseSearchEvent(v);
    if (ev) yield ev;
  }
}
