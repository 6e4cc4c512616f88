/**
 * Log levels: which level a line is written at, and their order, so that
 * "warn" can mean warn and worse.
 *
 * Rules, first that applies wins (explicit fields beat words):
 * 1. A syslog priority `<N>` at the start (N ≤ 191): its severity, N mod 8.
 * 2. A JSON object line (first non-blank `{`): its `level` field (or `lvl`,
 *    `severity`, `loglevel`, `log.level`, `levelname`, Serilog's `@l`), a
 *    word or a number (pino/bunyan 10–60, syslog 0–7); a Docker JSON log
 *    line (`{"log":"…"}`) by its `log` text; otherwise no level — words in a
 *    JSON line's values are data, not its level.
 * 3. A glog/klog prefix: `E0612 10:00:00.123456 …` (I, W, E, F).
 * 4. logfmt: `level=…` (or `lvl=`, `severity=`, `loglevel=`; keys in lower
 *    case, as logfmt writers spell them) anywhere in the first
 *    {@link LOGFMT_CHARS} characters, at the start or after a space.
 * 5. A level word among the first {@link HEAD_TOKENS} space-separated tokens
 *    (within {@link HEAD_CHARS} characters): in capitals with only
 *    punctuation around it (`ERROR`, `[WARN]`, `ERROR:root:`, `ERRO[0000]`);
 *    in any case in brackets (`[error]`, `[core:error]`, `<info>`), or
 *    followed by a colon as the first token or after a token ending in `:`,
 *    `]`, `)`, `|`, `Z` or a digit (a prefix or a timestamp: `sshd[1]:
 *    error: …`, `info: …`, `…Z warn: …`). Tokens holding `://` (URLs) are
 *    skipped.
 *
 * So an "error" deep in a message, a lower-case "error" inside a sentence,
 * or `/info` in a URL give no level.
 * @module
 */
import { stripAnsi } from "./ansi.ts";

/** A line's level, the six the page shows. */
export type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/** The levels, worst first. */
export const LEVELS: readonly Level[] = Object.freeze(["fatal", "error", "warn", "info", "debug", "trace"] as const);

/** How many space-separated tokens from the start a level word may be in. */
export const HEAD_TOKENS = 8;
/** How many characters from the start a level word may be in. */
export const HEAD_CHARS = 160;
/** How far into a line `level=` is looked for. */
export const LOGFMT_CHARS = 1024;

const RANK: Readonly<Record<Level, number>> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 };

/** The level's severity: trace 0, debug 1, info 2, warn 3, error 4, fatal 5. */
export function levelRank(level: Level): number {
  return RANK[level];
}

/** True when `level` is `min` or worse (`atLeast("error", "warn")`); a line without a level never is. */
export function atLeast(level: Level | null, min: Level): boolean {
  return level !== null && RANK[level] >= RANK[min];
}

/** Every name a level goes by (lower case), from the loggers people run. */
const NAMES: ReadonlyMap<string, Level> = new Map<string, Level>([
  ...words("fatal", "fatal critical crit panic emerg emergency alert ftl fata pani"),
  ...words("error", "error err erro fail severe eror"),
  ...words("warn", "warn warning wrn"),
  ...words("info", "info inf notice information informational"),
  ...words("debug", "debug dbg dbug debu fine"),
  ...words("trace", "trace trc trce trac verbose vrb finer finest"),
]);

function words(level: Level, list: string): [string, Level][] {
  return list.split(" ").map((w) => [w, level]);
}

/**
 * Reads a level's name as a person or a logger writes it (`warn`,
 * `WARNING`, `Err`, `critical`, `Information`), or null. For `&level=` and
 * for level fields.
 */
export function parseLevelName(name: string): Level | null {
  return NAMES.get(name.trim().toLowerCase()) ?? null;
}

/**
 * The level a structured field's value means: a name ({@link parseLevelName}),
 * or a number — 0–7 as syslog severities (GELF), 10–60 as pino and bunyan
 * write them (10 trace … 60 fatal, in-between values rounding down).
 */
export function levelOfValue(value: string | number): Level | null {
  if (typeof value === "string") {
    const t = value.trim();
    if (/^\d{1,3}$/.test(t)) return levelOfValue(Number(t));
    return parseLevelName(t);
  }
  if (!Number.isInteger(value) || value < 0) return null;
  if (value <= 7) return SYSLOG[value]!;
  if (value < 10) return null;
  if (value >= 60) return "fatal";
  return (["trace", "debug", "info", "warn", "error"] as const)[Math.floor(value / 10) - 1]!;
}

/** Syslog severities 0–7: emerg, alert, crit, err, warning, notice, info, debug. */
const SYSLOG: readonly Level[] = ["fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug"];

const SYSLOG_PRI = /^<(\d{1,3})>/;
const KLOG = /^[IWEF]\d{4} \d\d:\d\d:\d\d/;
const KLOG_LEVEL: Readonly<Record<string, Level>> = { I: "info", W: "warn", E: "error", F: "fatal" };
const JSON_KEY =
  /(?<!\\)"(?:level|lvl|severity|loglevel|log\.level|levelname|@l)"\s*:\s*(?:"([^"\\]{1,24})"|(\d{1,3})(?![\d.eE]))/i;
const LOGFMT_KEY = /(?:^|\s)(?:level|lvl|severity|loglevel)="?([A-Za-z]{1,16})(?=[\s"]|$)/;

/**
 * The level of one line (its plain text or the raw line: escapes are
 * stripped first), or null when it states none. See the module's rules.
 * @example
 * ```ts
 * detectLevel("2024-06-12 10:00:00,123 [main] ERROR c.e.App - boom"); // "error"
 * detectLevel('{"level":"warn","msg":"slow"}');                         // "warn"
 * detectLevel("GET https://example.com/info 200");                      // null
 * ```
 */
export function detectLevel(line: string): Level | null {
  if (line.indexOf("\x1b") >= 0) line = stripAnsi(line);
  return detect(line, true);
}

function detect(line: string, outer: boolean): Level | null {
  let i = 0;
  while (i < line.length && (line.charCodeAt(i) === 0x20 || line.charCodeAt(i) === 0x09)) i++;
  if (i >= line.length) return null;
  const c = line.charCodeAt(i);
  if (c === 0x3c && i === 0) {
    const m = SYSLOG_PRI.exec(line);
    if (m && Number(m[1]) <= 191) return SYSLOG[Number(m[1]) & 7]!;
  }
  if (c === 0x7b) return jsonLevel(line, outer);
  if (i === 0 && (c === 0x49 || c === 0x57 || c === 0x45 || c === 0x46) && KLOG.test(line)) {
    return KLOG_LEVEL[line[0]!]!;
  }
  // indexOf runs at memchr speed; the regular expression only where a key can be.
  if (line.indexOf("l=") >= 0 || line.indexOf("y=") >= 0) {
    const m = LOGFMT_KEY.exec(line.length > LOGFMT_CHARS ? line.slice(0, LOGFMT_CHARS) : line);
    const lv = m ? parseLevelName(m[1]!) : null;
    if (lv) return lv;
  }
  return wordLevel(line);
}

function jsonLevel(line: string, outer: boolean): Level | null {
  const m = JSON_KEY.exec(line);
  if (m) return levelOfValue(m[1] ?? Number(m[2]));
  if (outer && line.indexOf('"log"') >= 0) {
    // Docker's json-file driver: the program's own line is the `log` string.
    try {
      const v: unknown = JSON.parse(line);
      if (v && typeof v === "object" && !Array.isArray(v)) {
        const log = (v as Record<string, unknown>)["log"];
        if (typeof log === "string") return detect(log.indexOf("\x1b") >= 0 ? stripAnsi(log) : log, false);
      }
    } catch {
      // not JSON after all: no level
    }
  }
  // Serilog's compact JSON leaves out "@l" for Information.
  if (line.indexOf('"@t"') >= 0 && (line.indexOf('"@mt"') >= 0 || line.indexOf('"@m"') >= 0)) return "info";
  return null;
}

/** Characters that may stand right before a capitalised level word inside a token. */
const UP_LEFT = "[(<{|\"'*";
/** Characters that may stand right after one. */
const UP_RIGHT = "])>}|:,\"'*[;";
const OPEN = "[(<:";
const CLOSE = "])>";
/** The end of a token before a `word:` level: a prefix (`app[1]:`, `[x]`) or a timestamp. */
const PREFIX_END = ":])|Z0123456789";

/**
 * Candidates: a level name after a token start or a delimiter, not followed
 * by a word character. The rules are then checked on each (there are rarely
 * more than one); the regular expression does the scanning because it runs
 * several times faster than a loop over characters in JavaScript.
 */
const CANDIDATE = new RegExp(`(?:^|[\\s\\[(<{|"'*:])(${[...NAMES.keys()].join("|")})(?![A-Za-z0-9_])`, "gi");

function isLetter(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

function isSpace(c: number): boolean {
  return c <= 0x20;
}

/** At least {@link HEAD_TOKENS} tokens: a candidate after them is too far from the start. */
const TOO_FAR = new RegExp(`^\\s*(?:\\S+\\s+){${HEAD_TOKENS}}`);
/**
 * The first candidate within {@link HEAD_TOKENS} tokens, in one anchored
 * scan: most lines have one candidate, which is their level.
 */
const FIRST = new RegExp(
  `^\\s*(?:\\S+\\s+){0,${HEAD_TOKENS - 1}}?(?:\\S*?[\\[(<{|"'*:])?(?:${[...NAMES.keys()].join("|")})(?![A-Za-z0-9_])`,
  // g for lastIndex: test() then tells where the match ends without building a match array per line.
  "gi",
);

function wordLevel(line: string): Level | null {
  const head = line.length > HEAD_CHARS ? line.slice(0, HEAD_CHARS) : line;
  FIRST.lastIndex = 0;
  if (!FIRST.test(head)) return null;
  const end = FIRST.lastIndex;
  // The name is the letters before the end: the pattern puts no letter right before it.
  let at = end;
  while (at > 0 && isLetter(head.charCodeAt(at - 1))) at--;
  let word = head.slice(at, end);
  let lv = candidateLevel(head, at, end, word);
  if (lv) return lv;
  // The first candidate broke the rules (a lower-case word in a sentence): look further, counting tokens.
  CANDIDATE.lastIndex = at + word.length;
  for (let m = CANDIDATE.exec(head); m; m = CANDIDATE.exec(head)) {
    word = m[1]!;
    at = m.index + m[0].length - word.length;
    if (TOO_FAR.test(head.slice(0, at))) return null;
    lv = candidateLevel(head, at, at + word.length, word);
    if (lv) return lv;
  }
  return null;
}

/** Whether the name at `head[a, b)`, within the first tokens, is a level by the rules of this module, and which. */
function candidateLevel(head: string, a: number, b: number, word: string): Level | null {
  let tokStart = a;
  while (tokStart > 0 && !isSpace(head.charCodeAt(tokStart - 1))) tokStart--;
  let tokEnd = b;
  while (tokEnd < head.length && !isSpace(head.charCodeAt(tokEnd))) tokEnd++;
  let p = tokStart - 1;
  while (p >= 0 && isSpace(head.charCodeAt(p))) p--;
  const prevLast = p >= 0 ? head[p]! : "";
  if (tokEnd - tokStart > word.length + 2 && head.slice(tokStart, tokEnd).indexOf("://") >= 0) return null;
  const left = a > tokStart ? head[a - 1]! : "";
  const right = b < tokEnd ? head[b]! : "";
  const upper = UPPER.has(word);
  const ok = (upper && (left === "" || UP_LEFT.includes(left)) && (right === "" || UP_RIGHT.includes(right))) ||
    (left !== "" && OPEN.includes(left) && right !== "" && CLOSE.includes(right)) ||
    (right === ":" && left === "" && (prevLast === "" || PREFIX_END.includes(prevLast)));
  return ok ? (upper ? UPPER.get(word)! : NAMES.get(word.toLowerCase()) ?? null) : null;
}

/** The names in capitals, so the common `ERROR` needs no case conversion. */
const UPPER: ReadonlyMap<string, Level> = new Map([...NAMES].map(([w, l]) => [w.toUpperCase(), l]));
