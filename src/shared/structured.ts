/**
 * Structured log lines: JSON objects one per line, and logfmt
 * (`time=… level=info msg="…" key=value`). Detected per file from a sample
 * of its lines; each line is read into time, level, message and the other
 * fields, summarised on one line as `time LEVEL message key=value …`, or
 * pretty-printed.
 *
 * JSON is read by a small scanner of our own rather than `JSON.parse`: it
 * keeps each value's text as written (a 20-digit id stays 20 digits, where a
 * JavaScript number would round it), never builds objects from keys (so
 * `__proto__` is just a name), and walks nesting with a counter instead of
 * recursion, so a line of 100,000 `[` costs what its length costs. Strings
 * are decoded with `JSON.parse` on the string alone.
 * @module
 */
import { type Level, levelOfValue } from "./levels.ts";

/** A line's format, as detected for its file. */
export type Format = "json" | "logfmt";

/** One field of a structured line. */
export interface Field {
  readonly key: string;
  /**
   * The value: a string's text (decoded), or for other JSON values the JSON
   * text as written (`42`, `true`, `{"a":1}`); null for a logfmt key with no
   * `=`.
   */
  readonly value: string | null;
  /** True when the value is a string (JSON string or logfmt value), false for other JSON. */
  readonly text: boolean;
}

/** A structured line, read. */
export interface Structured {
  readonly format: Format;
  /** The time as written; a number of epoch seconds or milliseconds becomes ISO 8601 (UTC). */
  readonly time: string | null;
  readonly level: Level | null;
  /** The level as written (`"WARNING"`, `"40"`). */
  readonly levelText: string | null;
  readonly message: string | null;
  /** Every other field, in the line's order. */
  readonly fields: readonly Field[];
}

/** How many non-empty lines from the start decide a file's format. */
export const FORMAT_SAMPLE = 50;
/** The share of those lines that must be of a format for the file to be. */
export const FORMAT_SHARE = 0.8;

/** Key names, lower case, in the order they are preferred. */
const TIME_KEYS = ["time", "ts", "timestamp", "@timestamp", "@t", "datetime", "date"];
const LEVEL_KEYS = ["level", "lvl", "severity", "loglevel", "log.level", "levelname", "@l"];
const MESSAGE_KEYS = ["msg", "message", "event", "@m", "@mt", "short_message", "log"];

/**
 * The format of a file, from its first {@link FORMAT_SAMPLE} non-empty lines:
 * `"json"` when at least {@link FORMAT_SHARE} of them are JSON objects, else
 * `"logfmt"` when that share is logfmt, else null. With fewer lines than the
 * sample the answer is provisional: ask again as lines arrive.
 * @example
 * ```ts
 * detectFormat(['{"level":"info","msg":"a"}', '{"level":"warn","msg":"b"}']); // "json"
 * ```
 */
export function detectFormat(lines: Iterable<string>): Format | null {
  let total = 0;
  let json = 0;
  let logfmt = 0;
  for (const line of lines) {
    if (line.trim() === "") continue;
    total++;
    if (parseJsonLine(line)) json++;
    else if (parseLogfmtLine(line)) logfmt++;
    if (total >= FORMAT_SAMPLE) break;
  }
  if (total === 0) return null;
  if (json >= FORMAT_SHARE * total) return "json";
  if (logfmt >= FORMAT_SHARE * total) return "logfmt";
  return null;
}

/** Reads a line in the file's format; null when this line is not of it (it is then shown raw). */
export function parseLine(line: string, format: Format): Structured | null {
  return format === "json" ? parseJsonLine(line) : parseLogfmtLine(line);
}

/**
 * Reads a line that is one JSON object (blanks around it allowed); null for
 * anything else, arrays and other JSON values included. A Docker json-file
 * line (`{"log":"…","stream":…,"time":…}`) gives the program's line as the
 * message, and when that line is itself a JSON object, its fields.
 */
export function parseJsonLine(line: string): Structured | null {
  const pairs = scanObject(line);
  if (!pairs) return null;
  const docker = dockerInner(pairs);
  if (docker) return docker;
  return fromPairs("json", pairs);
}

/**
 * Reads a logfmt line: space-separated `key=value` pairs (values bare or in
 * double quotes with backslash escapes), bare keys allowed. It is logfmt when
 * every token reads so, keys look like names (letters, digits, `_ . - / @ :`,
 * not starting with a digit or punctuation other than `_@`), at least two
 * pairs have `=`, and bare keys are fewer than those pairs — so a sentence
 * with one `a=b` in it is not.
 */
export function parseLogfmtLine(line: string): Structured | null {
  const pairs = logfmtFields(line);
  return pairs ? fromPairs("logfmt", pairs) : null;
}

/** Every pair of a logfmt line, in order, or null when the line is not logfmt by {@link parseLogfmtLine}'s rule. */
function logfmtFields(line: string): Field[] | null {
  const pairs: Field[] = [];
  const n = line.length;
  let i = 0;
  let withValue = 0;
  while (true) {
    while (i < n && (line.charCodeAt(i) === 0x20 || line.charCodeAt(i) === 0x09 || line.charCodeAt(i) === 0x0d)) i++;
    if (i >= n) break;
    const k0 = i;
    while (i < n && line.charCodeAt(i) > 0x20 && line.charCodeAt(i) !== 0x3d && line.charCodeAt(i) !== 0x22) i++;
    const key = line.slice(k0, i);
    if (!LOGFMT_KEY.test(key)) return null;
    if (i >= n || line.charCodeAt(i) !== 0x3d) {
      if (i < n && line.charCodeAt(i) > 0x20) return null; // a quote inside a key
      pairs.push({ key, value: null, text: true });
      continue;
    }
    i++; // =
    withValue++;
    if (i < n && line.charCodeAt(i) === 0x22) {
      const end = quotedEnd(line, i);
      if (end < 0) return null;
      pairs.push({ key, value: unquoteLogfmt(line.slice(i + 1, end - 1)), text: true });
      i = end;
      if (i < n && line.charCodeAt(i) > 0x20) return null; // text glued after the closing quote
    } else {
      const v0 = i;
      while (i < n && line.charCodeAt(i) > 0x20) {
        if (line.charCodeAt(i) === 0x22) return null;
        i++;
      }
      pairs.push({ key, value: line.slice(v0, i), text: true });
    }
  }
  if (withValue < 2 || pairs.length - withValue >= withValue) return null;
  return pairs;
}

const LOGFMT_KEY = /^[A-Za-z_@][\w.\-/@:]*$/;

/** Where the double-quoted string starting at `i` ends (after its closing quote), or -1. */
function quotedEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  return -1;
}

function unquoteLogfmt(s: string): string {
  if (s.indexOf("\\") < 0) return s;
  return s.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c === "t" ? "\t" : c === "r" ? "\r" : c);
}

/** Picks time, level and message out of the pairs by the key lists, first key present wins. */
function fromPairs(format: Format, pairs: readonly Field[]): Structured {
  const lower = pairs.map((p) => p.key.toLowerCase());
  const pick = (keys: readonly string[]): number => {
    for (const k of keys) {
      const at = lower.indexOf(k);
      if (at >= 0 && pairs[at]!.value !== null) return at;
    }
    return -1;
  };
  const t = pick(TIME_KEYS);
  const l = pick(LEVEL_KEYS);
  const m = pick(MESSAGE_KEYS);
  const levelText = l >= 0 ? pairs[l]!.value : null;
  let level: Level | null = null;
  if (levelText !== null) level = levelOfValue(pairs[l]!.text ? levelText : Number(levelText));
  return {
    format,
    time: t >= 0 ? timeText(pairs[t]!) : null,
    level,
    levelText,
    message: m >= 0 ? messageText(pairs[m]!) : null,
    fields: pairs.filter((_, i) => i !== t && i !== l && i !== m),
  };
}

function messageText(f: Field): string {
  const v = f.value ?? "";
  return f.key === "log" ? v.replace(/\r?\n$/, "") : v;
}

/** A time as written, or an epoch number (seconds if below 1e11, else milliseconds) as ISO 8601 UTC. */
function timeText(f: Field): string {
  const v = f.value!;
  if (f.text) return v;
  const x = Number(v); // raw JSON: a number, or NaN for true/null/objects
  const ms = Math.abs(x) < 1e11 ? x * 1000 : x;
  // Years 1970–9999 only: a number beyond is no timestamp (and toISOString would write ±YYYYYY or throw).
  if (!(ms >= 0 && ms < 253402300800000)) return v;
  return isoTime(ms);
}

const p2 = (n: number) => (n < 10 ? "0" : "") + n;

/**
 * `Date.prototype.toISOString`'s text for 1970–9999, by arithmetic: V8
 * formats dates slowly, and a JSON log has a number to turn on every line.
 * The calendar is the proleptic Gregorian one, from days since the epoch.
 */
function isoTime(ms: number): string {
  ms = Math.floor(ms);
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  // Days to a civil date, counting in 400-year eras that start on 1 March 0000.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y}-${p2(m)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(sec)}.${milli < 100 ? "0" : ""}${p2(milli)}Z`;
}

/** Docker's json-file line: its `log` string is the program's line. */
function dockerInner(pairs: readonly Field[]): Structured | null {
  const log = pairs.find((p) => p.key === "log");
  if (!log || !log.text || !pairs.some((p) => p.key === "stream")) return null;
  const text = (log.value ?? "").replace(/\r?\n$/, "");
  const inner = scanObject(text);
  const others = pairs.filter((p) => p !== log && p.key !== "time");
  const outerTime = pairs.find((p) => p.key === "time");
  if (inner) {
    const s = fromPairs("json", inner);
    return { ...s, time: s.time ?? (outerTime ? timeText(outerTime) : null), fields: [...s.fields, ...others] };
  }
  return {
    format: "json",
    time: outerTime ? timeText(outerTime) : null,
    level: null,
    levelText: null,
    message: text,
    fields: others,
  };
}

/**
 * One line for a structured line: `time LEVEL message key=value …`. Parts
 * that are missing are left out; the level is the canonical name in capitals
 * (or as written when it names no level); line breaks in the message show as
 * `\n`; a string value is quoted (JSON-style) when it is empty or holds a
 * space, `=`, a quote or a control character; other JSON values are written
 * compactly.
 * @example
 * ```ts
 * summary(parseJsonLine('{"ts":1718186400,"level":"warn","msg":"slow","ms":812,"q":"a b"}')!);
 * // '2024-06-12T10:00:00.000Z WARN slow ms=812 q="a b"'
 * ```
 */
export function summary(s: Structured): string {
  return summaryParts(s).map((p) => p.text).join(" ");
}

/** What a part of a {@link summary} is, so the page can draw each its own way. */
export type SummaryKind = "time" | "level" | "message" | "field";

/** One part of a {@link summary}: parts are joined with one space. */
export interface SummaryPart {
  readonly kind: SummaryKind;
  readonly text: string;
  /** For a field: how many characters of `text` are its key and the `=` (0 for a bare key's flag). */
  readonly key?: number;
}

/**
 * The parts {@link summary} joins, in order: the time, the level, the message
 * (its escapes kept, for the ANSI parser) and each field.
 */
export function summaryParts(s: Structured): SummaryPart[] {
  const parts: SummaryPart[] = [];
  if (s.time !== null) parts.push({ kind: "time", text: s.time });
  if (s.level !== null) {
    parts.push({ kind: "level", text: s.level.toUpperCase() });
  } else if (s.levelText !== null) {
    parts.push({ kind: "level", text: s.levelText });
  }
  if (s.message !== null && s.message !== "") {
    parts.push({
      kind: "message",
      text: s.message.replace(/\r?\n|\r/g, "\\n"),
    });
  }
  for (const f of s.fields) {
    const text = fieldText(f);
    parts.push({
      kind: "field",
      text,
      key: f.value === null ? 0 : text.length - valueText(f).length,
    });
  }
  return parts;
}

function fieldText(f: Field): string {
  const key = NEEDS_QUOTES.test(f.key) || f.key === "" ? JSON.stringify(f.key) : f.key;
  return f.value === null ? key : `${key}=${valueText(f)}`;
}

function valueText(f: Field): string {
  if (f.value === null) return "";
  if (!f.text) {
    const c = f.value.charCodeAt(0);
    return c === 0x7b || c === 0x5b ? compactJson(f.value) : f.value;
  }
  return f.value === "" || NEEDS_QUOTES.test(f.value) ? JSON.stringify(f.value) : f.value;
}

// deno-lint-ignore no-control-regex -- a control character in a value is a reason to quote it
const NEEDS_QUOTES = /[\s="\x00-\x1f\x7f]/;

/**
 * The line pretty-printed: a JSON object re-indented from its own text (so
 * numbers, key order and duplicate keys are as written; past
 * {@link PRETTY_DEPTH} levels the rest of a value stays on one line), a
 * logfmt line as a JSON object of its pairs. Null when the line is neither.
 */
export function pretty(line: string): string | null {
  if (scanObject(line)) return reindent(line.trim());
  const pairs = logfmtFields(line);
  if (!pairs) return null;
  // A bare logfmt key is a flag: true.
  const body = pairs.map((p) => `  ${JSON.stringify(p.key)}: ${p.value === null ? "true" : JSON.stringify(p.value)}`);
  return `{\n${body.join(",\n")}\n}`;
}

/** Nesting deeper than this is printed on one line: indenting 10,000 levels would write 100 MB. */
export const PRETTY_DEPTH = 64;

function reindent(json: string): string {
  let out = "";
  let depth = 0;
  let from = 0;
  const nl = (d: number) => "\n" + "  ".repeat(d);
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(json, i);
      i = end - 1;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      out += json.slice(from, i);
      from = i + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      depth++;
      const close = c === 0x7b ? 0x7d : 0x5d;
      let j = i + 1;
      while (j < json.length && /\s/.test(json[j]!)) j++;
      if (json.charCodeAt(j) === close) {
        out += json.slice(from, i) + (c === 0x7b ? "{}" : "[]");
        from = j + 1;
        i = j;
        depth--;
        continue;
      }
      if (depth <= PRETTY_DEPTH) {
        out += json.slice(from, i + 1) + nl(depth);
        from = i + 1;
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth < PRETTY_DEPTH) {
        out += json.slice(from, i) + nl(depth);
        from = i;
      }
    } else if (c === 0x2c && depth <= PRETTY_DEPTH) {
      out += json.slice(from, i + 1) + nl(depth);
      from = i + 1;
    } else if (c === 0x3a && depth <= PRETTY_DEPTH) {
      out += json.slice(from, i + 1) + " ";
      from = i + 1;
    }
  }
  return out + json.slice(from);
}

/** A JSON value's text without blanks outside strings: `{"a": [1, 2]}` → `{"a":[1,2]}`. */
function compactJson(json: string): string {
  if (!/\s/.test(json)) return json;
  let out = "";
  let from = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) i = stringEnd(json, i) - 1;
    else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      out += json.slice(from, i);
      from = i + 1;
    }
  }
  return out + json.slice(from);
}

// ---- the JSON scanner ----
//
// Compact JSON lines are the common case, so blanks, strings without
// escapes, numbers and literals are read with charCodeAt and indexOf, and the
// sticky regular expressions only run where those shortcuts do not apply.
// One leniency: a string without escapes may hold raw control characters (a
// logger that writes a raw tab still meant JSON); a string with escapes is
// checked strictly, as JSON.parse decodes it.

const WS = /[ \t\n\r]*/y;
// deno-lint-ignore no-control-regex -- JSON forbids raw control characters in strings
const STRING = /"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function ws(s: string, i: number): number {
  if (!isBlank(s.charCodeAt(i))) return i;
  WS.lastIndex = i;
  WS.test(s);
  return WS.lastIndex;
}

/**
 * The next backslash at or after `bsFrom` in `bsLine` (-1: none): kept
 * between calls, since the scanner moves forward, so that a line of 50,000
 * short strings does not search its rest 50,000 times.
 */
let bsLine = "";
let bsFrom = 0;
let bsAt = -1;

function nextBackslash(s: string, from: number): number {
  if (s !== bsLine || from < bsFrom || (bsAt >= 0 && bsAt < from)) {
    bsLine = s;
    bsFrom = from;
    bsAt = s.indexOf("\\", from);
  }
  return bsAt;
}

/** Whether the string {@link stringEnd} read last had escapes. */
let escaped = false;

/** After the string starting at `i` (an opening quote), or -1 when it is not a valid JSON string. */
function stringEnd(s: string, i: number): number {
  const q = s.indexOf('"', i + 1);
  if (q < 0) return -1;
  const bs = nextBackslash(s, i + 1);
  escaped = bs >= 0 && bs < q;
  if (!escaped) return q + 1;
  STRING.lastIndex = i;
  return STRING.test(s) ? STRING.lastIndex : -1;
}

/** The text of the string `s[i, end)` that {@link stringEnd} just read. */
function decodeString(s: string, i: number, end: number): string {
  // With escapes, STRING checked them (and refused raw control characters) before JSON.parse decodes.
  return escaped ? JSON.parse(s.slice(i, end)) as string : s.slice(i + 1, end - 1);
}

/** After the number or literal at `i`, or -1. */
function scalarEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x74) return s.startsWith("true", i) ? i + 4 : -1;
  if (c === 0x66) return s.startsWith("false", i) ? i + 5 : -1;
  if (c === 0x6e) return s.startsWith("null", i) ? i + 4 : -1;
  if (c !== 0x2d && (c < 0x30 || c > 0x39)) return -1;
  // A plain integer without a leading zero is most numbers in logs: no regular expression for it.
  let j = c === 0x2d ? i + 1 : i;
  const d0 = s.charCodeAt(j);
  if (d0 > 0x30 && d0 <= 0x39) {
    j++;
    while (s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
    const e = s.charCodeAt(j);
    if (e !== 0x2e && e !== 0x65 && e !== 0x45) return j;
  }
  NUMBER.lastIndex = i;
  return NUMBER.test(s) ? NUMBER.lastIndex : -1;
}

/**
 * The top-level pairs of a line that is exactly one JSON object (blanks
 * around allowed), keys decoded, values as {@link Field}s; null when the line
 * is not valid JSON or not an object.
 */
function scanObject(line: string): Field[] | null {
  let i = ws(line, 0);
  if (line.charCodeAt(i) !== 0x7b) return null;
  i = ws(line, i + 1);
  const pairs: Field[] = [];
  if (line.charCodeAt(i) === 0x7d) return ws(line, i + 1) === line.length ? pairs : null;
  while (true) {
    if (line.charCodeAt(i) !== 0x22) return null;
    const ke = stringEnd(line, i);
    if (ke < 0) return null;
    const key = decodeString(line, i, ke);
    i = ws(line, ke);
    if (line.charCodeAt(i) !== 0x3a) return null;
    i = ws(line, i + 1);
    const ve = valueEnd(line, i);
    if (ve < 0) return null;
    pairs.push(
      line.charCodeAt(i) === 0x22
        ? { key, value: decodeString(line, i, ve), text: true }
        : { key, value: line.slice(i, ve), text: false },
    );
    i = ws(line, ve);
    const c = line.charCodeAt(i);
    if (c === 0x2c) {
      i = ws(line, i + 1);
      continue;
    }
    if (c === 0x7d) return ws(line, i + 1) === line.length ? pairs : null;
    return null;
  }
}

/**
 * Where the JSON value starting at `i` ends, or -1. Nesting is tracked with
 * a stack of open brackets, not recursion: depth costs memory (one entry per
 * level), never the call stack.
 */
function valueEnd(s: string, i: number): number {
  const c0 = s.charCodeAt(i);
  if (c0 === 0x22) return stringEnd(s, i);
  if (c0 !== 0x7b && c0 !== 0x5b) return scalarEnd(s, i);
  const stack: number[] = [];
  while (true) {
    // A value.
    const c = s.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      i = ws(s, i + 1);
      if (s.charCodeAt(i) === close) {
        i++;
      } else {
        stack.push(close);
        if (close === 0x7d) {
          i = member(s, i);
          if (i < 0) return -1;
        }
        continue;
      }
    } else {
      i = c === 0x22 ? stringEnd(s, i) : scalarEnd(s, i);
      if (i < 0) return -1;
    }
    // After a value: close what ends here, or go on to the next element.
    while (true) {
      if (stack.length === 0) return i;
      i = ws(s, i);
      const d = s.charCodeAt(i);
      const top = stack[stack.length - 1]!;
      if (d === top) {
        stack.pop();
        i++;
        continue;
      }
      if (d !== 0x2c) return -1;
      i = ws(s, i + 1);
      if (top === 0x7d) {
        i = member(s, i);
        if (i < 0) return -1;
      }
      break;
    }
  }
}

/** A member's `"key":` inside an object; returns where its value starts, or -1. */
function member(s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x22) return -1;
  const ke = stringEnd(s, i);
  if (ke < 0) return -1;
  i = ws(s, ke);
  if (s.charCodeAt(i) !== 0x3a) return -1;
  return ws(s, i + 1);
}
