/**
 * The view's state in the page's URL, so a link shows someone else the same
 * view (docs/page.md#reading-real-logs): the query carries the filter, match
 * case, the levels shown, marked only, fields, pause and a time; the
 * fragment keeps naming a line (`#L120`). The query is the page's own
 * (`/f/app.log?q=…`, under `--base-path` too): the server serves the page
 * whatever it holds, and only the script reads it.
 *
 * | key | meaning |
 * | --- | --- |
 * | `q` | the filter box's text (`/…/` a regular expression) |
 * | `case=1` | match case |
 * | `levels=error,warn` | the levels shown (absent: all) |
 * | `marked=1` | only marked lines |
 * | `fields=0` / `fields=1` | JSON lines as written / as fields |
 * | `pause=1` | paused |
 * | `t=2024-06-12T10:00:00Z` | the first line stamped at or after this time |
 *
 * Pure: main.ts reads `location.search` and writes with `history.replaceState`.
 * @module
 */
import { LEVEL_KEYS, type LevelKey } from "./loglines.ts";

/** What the URL carries; a key absent from the URL is absent here (the page keeps its own default). */
export interface ViewState {
  filter?: string;
  matchCase?: boolean;
  levels?: LevelKey[] | null;
  markedOnly?: boolean;
  fields?: boolean;
  paused?: boolean;
  time?: string;
}

/** The keys this module owns; any other key in the query is kept as it is. */
const KEYS = ["q", "case", "levels", "marked", "fields", "pause", "t"];

/**
 * Reads the view's state from a query string (`location.search`).
 * @example
 * ```ts
 * parseViewQuery("?q=%2Ferr%2F&levels=error,warn&pause=1");
 * // { filter: "/err/", levels: ["error", "warn"], paused: true }
 * ```
 */
export function parseViewQuery(search: string): ViewState {
  const p = new URLSearchParams(search);
  const out: ViewState = {};
  const q = p.get("q");
  if (q !== null) out.filter = q;
  if (p.has("case")) out.matchCase = p.get("case") === "1";
  const levels = p.get("levels");
  if (levels !== null) {
    const keys = levels.split(",").map((s) => s.trim().toLowerCase());
    out.levels = LEVEL_KEYS.filter((k) => keys.includes(k));
  }
  if (p.has("marked")) out.markedOnly = p.get("marked") === "1";
  if (p.has("fields")) out.fields = p.get("fields") !== "0";
  if (p.has("pause")) out.paused = p.get("pause") === "1";
  const t = p.get("t");
  if (t !== null && t.trim() !== "") out.time = t.trim();
  return out;
}

/**
 * The query for `state` (with a leading `?`, or "" when empty): the keys
 * this module owns are written from `state` (defaults left out, so a view
 * as it opens has a plain URL), every other key of `search` is kept.
 * `fieldsDefault` is what Fields is without a URL saying.
 * @example
 * ```ts
 * viewQuery({ filter: "error", levels: null, paused: false }, "?x=1", true); // "?x=1&q=error"
 * ```
 */
export function viewQuery(
  state: ViewState,
  search: string,
  fieldsDefault: boolean,
): string {
  const p = new URLSearchParams(search);
  for (const k of KEYS) p.delete(k);
  if (state.filter) p.set("q", state.filter);
  if (state.matchCase) p.set("case", "1");
  if (state.levels) p.set("levels", state.levels.join(","));
  if (state.markedOnly) p.set("marked", "1");
  if (state.fields !== undefined && state.fields !== fieldsDefault) {
    p.set("fields", state.fields ? "1" : "0");
  }
  if (state.paused) p.set("pause", "1");
  if (state.time) p.set("t", state.time);
  // URLSearchParams writes "," as %2C; the level list reads better as it is.
  const s = p.toString().replace(/%2C/g, ",");
  return s === "" ? "" : `?${s}`;
}

/**
 * When a line was stamped, in ms since the epoch, from a timestamp at its
 * start (RFC 3339 / ISO 8601, `T` or a space, a fraction, an offset or none
 * = UTC) or its structured `time`; null when it has none.
 */
export function lineTime(
  line: string,
  structuredTime: string | null = null,
): number | null {
  const m = STAMP.exec(line);
  const text = m ? m[1]! : structuredTime;
  if (text === null) return null;
  return parseTime(text);
}

const STAMP = /^\s*(?:<\d{1,3}>)?\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)/;

/** An RFC 3339 / ISO 8601 time (or epoch milliseconds) in ms since the epoch; null when it is neither. */
export function parseTime(text: string): number | null {
  const t = text.trim();
  if (/^\d{10,16}$/.test(t)) return Number(t);
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$/i
    .exec(t);
  if (!m) return null;
  const frac = m[3] ? `.${m[3].slice(0, 3).padEnd(3, "0")}` : "";
  const zone = !m[4] || m[4].toUpperCase() === "Z"
    ? "Z"
    : m[4].length === 5
    ? `${m[4].slice(0, 3)}:${m[4].slice(3)}`
    : m[4];
  const ms = Date.parse(
    `${m[1]}T${m[2]!.length === 5 ? m[2] + ":00" : m[2]}${frac}${zone}`,
  );
  return Number.isNaN(ms) ? null : ms;
}
