/**
 * `GET /search`: literal and regular-expression search over a whole file of
 * any size, newest first by default, streamed as events (NDJSON on the wire;
 * docs/protocol.md, "Search").
 *
 * How it stays fast: the file is read in {@link WINDOW}-byte windows straight
 * into a WebAssembly SIMD finder (`_find.ts`), which looks for a literal the
 * matching lines must contain (the query itself, or one taken from the
 * regular expression by {@link requiredLiterals}); only lines holding it are
 * decoded, and only those go to the regular-expression engine. Line numbers
 * come from counting newlines in the same windows, from a starting number
 * given by the caller's line index (`lineOf`) or counted here.
 *
 * How it stays out of the way: the work runs in slices of at most
 * {@link SLICE_MS}, and checks its AbortSignal at every slice. Between
 * slices {@link breathe} lets others run: on the main thread the event loop
 * (a cancelled search stops within one slice), in the search worker the
 * other searches, and the worker's event loop every
 * {@link WorkerPacing.turnMs} (see {@link paceAsWorker}).
 *
 * The regular-expression engine is npm `re2js` (a JavaScript port of RE2):
 * linear time in the input, so `(a+)+$` costs what `a` costs.
 *
 * ```ts
 * const q = parseSearchQuery(new URLSearchParams("q=error"), size);
 * if (!q.ok) return new Response(q.reason, { status: 400 });
 * for await (const ev of searchFile({ path, size }, q.query, signal)) console.log(ev);
 * ```
 * @module
 */
import { open } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { RE2JS } from "re2js";
import { ByteFinder, MAX_NEEDLE, MAX_NEEDLES } from "./_find.ts";
import type { IndexHandle } from "./_file.ts";
import { atLeast, detectLevel, type Level, LEVELS, parseLevelName } from "../shared/levels.ts";
import type { SearchDone, SearchMatch, SearchProgress } from "../shared/answers.ts";

/** Matches sent when `limit` is not given. */
export const DEFAULT_LIMIT = 1_000;
/** The most matches one search may ask for. */
export const MAX_LIMIT = 10_000;
/** The longest query, in characters. */
export const MAX_QUERY = 1_000;
/** A matching line longer than this many bytes is sent cut, with `cut` and `bytes`. */
export const LINE_CUT = 64 * 1024;
/**
 * Bytes read and scanned at once. A line longer than this is searched in
 * pieces of it. Every running search holds one in its WebAssembly memory: 1
 * MiB cost the same CPU time per GiB as 4 MiB did (a literal search of a
 * page-cached 1 GiB log in the worker), and 3 MiB less per search.
 */
export const WINDOW = 1024 * 1024;
/**
 * The most CPU time one slice of a search takes before it lets the event loop
 * run: live viewers wait at most this long per running search.
 */
export const SLICE_MS = 8;
/** How often progress is sent; below the 250 ms the protocol promises, with a slice of slack. */
export const PROGRESS_MS = 250 - 3 * SLICE_MS;
/**
 * A backward search works through a window in blocks of this size from its
 * end, so that the newest lines of a window are found first and a limit met
 * early does not pay for the whole window.
 */
const BACK_BLOCK = 256 * 1024;
const NL = 10;

/** What `/search` was asked, after {@link parseSearchQuery}. */
export interface SearchQuery {
  /** The text or regular expression. */
  q: string;
  /** `q` is an RE2 regular expression (`regex=1`). */
  regex: boolean;
  /** Case matters (`case=1`); by default it does not. */
  caseSensitive: boolean;
  /** The byte offset to start from (`from`); null = the start (`fwd`) or the end (`back`). */
  from: number | null;
  /** `back`: newest first, lines starting before `from`; `fwd`: lines starting at or after `from`. */
  dir: "back" | "fwd";
  /** Stop after this many matches. */
  limit: number;
  /** Also search the file's rotated generations (`history=1`). */
  history: boolean;
  /**
   * Only lines at this level or worse (`level=warn`: warn, error, fatal), as
   * src/shared/levels.ts reads a line's level; absent: any line. With a level,
   * `q` may be empty: every line of that level matches.
   */
  level?: Level;
}

/** The values of a `/search` stream, one shape for the server and the page (src/shared/answers.ts). */
export type { SearchDone, SearchMatch, SearchProgress };
/** What a search yields, in order: matches and progress, then one {@link SearchDone}. */
export type SearchEvent = SearchMatch | SearchProgress | SearchDone;

/** The result of {@link parseSearchQuery}: a query, or the reason for a 400. */
export type ParsedSearch = { ok: true; query: SearchQuery } | { ok: false; reason: string };

const flag = (v: string | null, name: string): boolean | string => {
  if (v === null || v === "0" || v === "") return false;
  if (v === "1") return true;
  return `Cannot search: "${name}" must be 0 or 1, got "${v}"`;
};
const integer = (v: string, name: string, lo: number, hi: number): number | string => {
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= lo && n <= hi
    ? n
    : `Cannot search: "${name}" must be an integer from ${lo} to ${hi}, got "${v}"`;
};

/**
 * Reads `/search`'s parameters: `q` (1..{@link MAX_QUERY} characters;
 * required unless `level` is given), `regex`, `case`, `history` (0 or 1),
 * `from` (0..size), `dir` (`back` or `fwd`), `limit` (1..{@link MAX_LIMIT}),
 * `level` (a level's name: that level and worse). A regular expression is
 * compiled here, so its syntax errors come back as the engine words them.
 * @example
 * ```ts
 * parseSearchQuery(new URLSearchParams("q=(a&regex=1"), 100);
 * // { ok: false, reason: 'Cannot search: "q" is not a valid regular expression: missing closing ): (a' }
 * ```
 */
export function parseSearchQuery(params: URLSearchParams, size: number): ParsedSearch {
  let level: Level | null = null;
  const levelParam = params.get("level");
  if (levelParam !== null) {
    level = parseLevelName(levelParam);
    if (level === null) {
      return {
        ok: false,
        reason: `Cannot search: "level" must be one of ${LEVELS.join(", ")}, got "${levelParam.slice(0, 40)}"`,
      };
    }
  }
  const q = params.get("q") ?? (level === null ? null : "");
  if (q === null || (q === "" && level === null)) {
    return { ok: false, reason: `Cannot search: "q" is required and must not be empty` };
  }
  if (q.length > MAX_QUERY) {
    return { ok: false, reason: `Cannot search: "q" is ${q.length} characters long, the most is ${MAX_QUERY}` };
  }
  const regex = flag(params.get("regex"), "regex");
  const caseSensitive = flag(params.get("case"), "case");
  const history = flag(params.get("history"), "history");
  for (const f of [regex, caseSensitive, history]) if (typeof f === "string") return { ok: false, reason: f };
  const dir = params.get("dir") ?? "back";
  if (dir !== "back" && dir !== "fwd") {
    return { ok: false, reason: `Cannot search: "dir" must be "back" or "fwd", got "${dir}"` };
  }
  let from: number | null = null;
  const fromParam = params.get("from");
  if (fromParam !== null) {
    const n = integer(fromParam, "from", 0, size);
    if (typeof n === "string") return { ok: false, reason: n };
    from = n;
  }
  let limit = DEFAULT_LIMIT;
  const limitParam = params.get("limit");
  if (limitParam !== null) {
    const n = integer(limitParam, "limit", 1, MAX_LIMIT);
    if (typeof n === "string") return { ok: false, reason: n };
    limit = n;
  }
  if (!regex && q.includes("\n")) return { ok: false, reason: `Cannot search: "q" must not hold a line break` };
  const query: SearchQuery = {
    q,
    regex: regex === true,
    caseSensitive: caseSensitive === true,
    from,
    dir,
    limit,
    history: history === true,
    ...(level === null ? {} : { level }),
  };
  try {
    compileMatcher(query);
  } catch (e) {
    return { ok: false, reason: `Cannot search: "q" is not a valid regular expression: ${(e as Error).message}` };
  }
  return { ok: true, query };
}

// ---------------------------------------------------------------------------
// Matching one line

/** How lines are matched: a byte prefilter, and the test a line that passes it must also pass. */
export interface LineMatcher {
  /** A line can match only if it holds one of these (ASCII letters folded when {@link fold}); null: any line can. */
  needles: Uint8Array[] | null;
  fold: boolean;
  /** A needle found is a match: no {@link test} needed. */
  exact: boolean;
  /** Whether a decoded line matches. */
  test(line: string): boolean;
}

/**
 * A character a case-insensitive byte search can look for as bytes: any
 * ASCII character (the finder matches letters in either case), or a
 * character without case. Other letters (é, д) break a literal into pieces.
 * RE2 also folds k with the Kelvin sign and s with the long s; a search does
 * not (docs/protocol.md, "Search"): "session" would otherwise have no piece
 * longer than "ion" to look for.
 */
function caseless(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return c < 0x80 || (ch.toLowerCase() === ch && ch.toUpperCase() === ch);
}

/** The longest piece of `s` whose bytes a search can look for (all of `s` when case matters). */
function searchablePiece(s: string, fold: boolean): string {
  if (!fold) return s;
  let best = "", run = "";
  for (const ch of s) {
    if (caseless(ch)) {
      run += ch;
      if (utf8Length(run) > utf8Length(best)) best = run;
    } else run = "";
  }
  return best;
}
const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).length;

/** The needle bytes for `s`: at most {@link MAX_NEEDLE} (any window of a required string is required too). */
function needleBytes(s: string): Uint8Array {
  const b = encoder.encode(s);
  return b.length <= MAX_NEEDLE ? b : b.subarray(0, MAX_NEEDLE);
}

/**
 * Compiles a query into a {@link LineMatcher}. Throws the engine's error for
 * a regular expression it refuses. A `level` narrows the test: a line must
 * match and be of that level or worse; with an empty `q`, every line is a
 * candidate and its level decides.
 */
export function compileMatcher(query: SearchQuery): LineMatcher {
  const m = textMatcher(query);
  const min = query.level;
  if (min === undefined) return m;
  if (query.q === "") {
    return {
      needles: null,
      fold: m.fold,
      exact: false,
      test: (line) => atLeast(detectLevel(line), min),
    };
  }
  // The needle still finds the candidates; the line's level is read only for those.
  return { ...m, exact: false, test: (line) => m.test(line) && atLeast(detectLevel(line), min) };
}

/** The matcher for `q` alone. */
function textMatcher(query: SearchQuery): LineMatcher {
  const fold = !query.caseSensitive;
  if (!query.regex) {
    const q = query.q;
    const piece = searchablePiece(q, fold);
    const whole = piece === q && encoder.encode(q).length <= MAX_NEEDLE;
    let test: (line: string) => boolean;
    if (!fold) test = (line) => line.includes(q);
    else {
      const re = RE2JS.compile(RE2JS.quote(q), RE2JS.CASE_INSENSITIVE);
      test = (line) => re.test(line);
    }
    return { needles: piece ? [needleBytes(piece)] : null, fold, exact: whole, test };
  }
  const re = RE2JS.compile(query.q, fold ? RE2JS.CASE_INSENSITIVE : 0);
  const lits = requiredLiterals(query.q, fold);
  return { needles: lits ? lits.map(needleBytes) : null, fold, exact: false, test: (line) => re.test(line) };
}

class Bail extends Error {}
interface Info {
  /** The atom or sequence matches exactly this text, or null. */
  exact: string | null;
  /** Sets of strings of which a match must contain one (each set: alternatives). */
  factors: string[][];
}

/**
 * Literals that every match of the RE2 pattern `p` contains: a list of
 * alternatives (a line that holds none of them cannot match), or null when no
 * useful one is found. The parse is deliberately partial: anything it does
 * not understand gives null (search every line), never a wrong literal.
 * With `fold`, each literal is cut to the piece a case-insensitive byte
 * search can look for ({@link searchablePiece}).
 * @example
 * ```ts
 * requiredLiterals("ERROR.*timeout", false); // ["timeout"] (the longer)
 * requiredLiterals("(warn|error) [0-9]+", false); // ["warn", "error"]
 * requiredLiterals("\\d+", false); // null
 * ```
 */
export function requiredLiterals(p: string, fold: boolean): string[] | null {
  let i = 0;
  const score = (set: string[]): number => {
    let min = Infinity;
    for (const s of set) min = Math.min(min, utf8Length(searchablePiece(s, fold)));
    // More alternatives cost more passes: prefer one long literal to several.
    return min === Infinity || min === 0 ? 0 : min / Math.sqrt(set.length);
  };
  const best = (info: Info): string[] | null => {
    let pick: string[] | null = null, top = 0;
    const sets = info.exact ? [[info.exact], ...info.factors] : info.factors;
    for (const set of sets) {
      const s = score(set);
      if (s > top) [pick, top] = [set, s];
    }
    return pick;
  };
  const alt = (): Info => {
    const branches = [concat()];
    while (p[i] === "|") {
      i++;
      branches.push(concat());
    }
    if (branches.length === 1) return branches[0]!;
    const union: string[] = [];
    for (const b of branches) {
      const set = best(b);
      if (set === null) return { exact: null, factors: [] };
      union.push(...set);
    }
    const uniq = [...new Set(union)];
    return { exact: null, factors: uniq.length <= MAX_NEEDLES ? [uniq] : [] };
  };
  const repeat = (): [number, number] | null => {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (!m) return null;
    return [Number(m[1]), m[0].length];
  };
  // Quantifiers after an atom: "none", "opt" (may be absent) or "plus" (at least once).
  const quant = (): "none" | "opt" | "plus" => {
    let optional = false, repeated = false;
    for (;;) {
      const c = p[i];
      if (c === "*" || c === "?") optional = true;
      else if (c === "+") repeated = true;
      else if (c === "{") {
        const r = repeat();
        if (!r) break;
        if (r[0] === 0) optional = true;
        else repeated = true;
        i += r[1] - 1;
      } else break;
      i++;
      if (p[i] === "?") i++; // lazy
    }
    return optional ? "opt" : repeated ? "plus" : "none";
  };
  const none: Info = { exact: null, factors: [] };
  const atom = (): Info => {
    const c = p[i]!;
    if (c === "(") {
      i++;
      if (p[i] === "?") {
        const m = /^\?(P?<[^>]*>|[a-zA-Z-]*:|[a-zA-Z-]*\))/.exec(p.slice(i));
        if (!m) throw new Bail();
        const flags = m[1]!;
        // A group that turns case-insensitivity on breaks a case-sensitive byte search.
        if (!fold && /^[a-zA-Z]*i/.test(flags)) throw new Bail();
        i += m[0].length;
        if (flags.endsWith(")")) return { exact: "", factors: [] };
      }
      const inner = alt();
      if (p[i] !== ")") throw new Bail();
      i++;
      return inner;
    }
    if (c === "[") {
      i++;
      if (p[i] === "^") i++;
      if (p[i] === "]") i++;
      while (i < p.length && p[i] !== "]") {
        if (p[i] === "\\") i += 2;
        else if (p.startsWith("[:", i)) {
          const e = p.indexOf(":]", i + 2);
          i = e < 0 ? i + 1 : e + 2;
        } else i++;
      }
      if (p[i] !== "]") throw new Bail();
      i++;
      return none;
    }
    if (c === "." || c === "^" || c === "$") {
      i++;
      return none;
    }
    if (c === "\\") {
      const e = p[i + 1];
      if (e === undefined) throw new Bail();
      if (e === "Q") {
        const end = p.indexOf("\\E", i + 2);
        const text = p.slice(i + 2, end < 0 ? p.length : end);
        i = end < 0 ? p.length : end + 2;
        return { exact: text, factors: [] };
      }
      if (/[!-/:-@[-`{-~]/.test(e)) {
        i += 2;
        return { exact: e, factors: [] };
      }
      if (/[dDwWsSbBAzCaftnrv]/.test(e)) {
        i += 2;
        return none;
      }
      if (e === "p" || e === "P" || e === "x") {
        i += 2;
        if (p[i] === "{") {
          const end = p.indexOf("}", i);
          if (end < 0) throw new Bail();
          i = end + 1;
        } else i += e === "x" ? 2 : 1;
        return none;
      }
      if (/[0-7]/.test(e)) {
        i += 2;
        while (/[0-7]/.test(p[i] ?? "")) i++;
        return none;
      }
      throw new Bail();
    }
    if (c === "*" || c === "+" || c === "?" || c === ")" || c === "|") throw new Bail();
    // `{` that is not a repetition is a literal in RE2 (JSON logs: {"level":"error"}).
    const ch = String.fromCodePoint(p.codePointAt(i)!);
    i += ch.length;
    return { exact: ch, factors: [] };
  };
  const concat = (): Info => {
    let run = "";
    let allExact = true;
    const factors: string[][] = [];
    const flush = () => {
      if (run) factors.push([run]);
      run = "";
    };
    while (i < p.length && p[i] !== "|" && p[i] !== ")") {
      const a = atom();
      const q = quant();
      if (q === "none" && a.exact !== null) {
        run += a.exact;
        continue;
      }
      allExact = false;
      if (q === "plus" && a.exact !== null) run += a.exact;
      flush();
      if (q !== "opt") {
        const set = best(a);
        if (set) factors.push(set);
      }
    }
    const exact = allExact ? run : null;
    flush();
    return { exact, factors };
  };
  try {
    const top = alt();
    if (i !== p.length) return null;
    const set = best(top);
    if (!set) return null;
    const pieces = set.map((s) => searchablePiece(s, fold));
    return pieces.every((s) => s.length > 0) ? [...new Set(pieces)] : null;
  } catch (e) {
    if (e instanceof Bail) return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Scanning

const decoder = new TextDecoder();

/** `bytes[start, end)` as text, cut at {@link LINE_CUT} on a character boundary. */
export function lineText(bytes: Uint8Array, start: number, end: number): Pick<SearchMatch, "text" | "cut" | "bytes"> {
  const len = end - start;
  if (len <= LINE_CUT) return { text: decoder.decode(bytes.subarray(start, end)) };
  let cut = start + LINE_CUT;
  // Back off a character the cut would split (at most 3 continuation bytes).
  for (let k = 0; k < 3 && (bytes[cut]! & 0xc0) === 0x80; k++) cut--;
  return { text: decoder.decode(bytes.subarray(start, cut)), cut: true, bytes: len };
}

let turn: Promise<void> | null = null;
/** When the last turn ended (worker pacing counts the work since then). */
let turnEnd = performance.now();

/**
 * How searches yield in a thread of their own (src/search_worker.ts sets
 * it): there is no event loop of viewers to protect there, only the thread's
 * own messages (cancel, credit, line numbers, new searches).
 */
export interface WorkerPacing {
  /**
   * The most work (ms, all the thread's searches together) between two turns
   * of its event loop: what a cancel or a credit may wait.
   */
  turnMs: number;
  /**
   * How long to sleep at the next {@link breathe}, given the ms worked since
   * the last turn: 0 lets the searches go on (a turn when `turnMs` is used
   * up); more caps the thread's share of the CPU.
   */
  restMs(worked: number): number;
}
let pacing: WorkerPacing | null = null;

/**
 * Makes {@link breathe} pace a thread of searches rather than the main
 * thread (null: back to the main thread's timer turn every slice).
 */
export function paceAsWorker(p: WorkerPacing | null): void {
  pacing = p;
  turnEnd = performance.now();
}

/**
 * Lets others run before the next slice.
 *
 * On the main thread (the default): a turn of the event loop (timers, I/O,
 * other requests), a timer every running search waits for. Not an
 * immediate, though it would cost less (a timer turn takes 1–2.5 ms here):
 * Deno does not poll for I/O while an immediate is queued, so searches that
 * yield with immediates hold every request back, and so does one that waits
 * for a timer while another queues immediates. Measured here, `/healthz`
 * behind two searches of a file of empty lines (median and worst of 20):
 * with immediates 785 ms and 2.3 s on Deno (12 and 18 ms on Bun); with a
 * timer every other slice 39 and 692 ms; with this 10 and 29 ms. A literal
 * search rarely uses up a slice between its reads, which are turns of their
 * own.
 *
 * In a search thread ({@link paceAsWorker}): the other searches' slices
 * (a resolved promise: its continuation queues behind theirs), and a timer
 * turn only when {@link WorkerPacing.turnMs} of work has gone by or the
 * pacing asks for a rest. A timer turn every 8 ms slice had cost a search
 * that runs every line through the engine a quarter to half of its time (a
 * turn is 1–2.2 ms in a worker here, and the slices were 8 ms).
 */
export function breathe(): Promise<void> {
  if (turn) return turn;
  let rest = 0;
  if (pacing) {
    const worked = performance.now() - turnEnd;
    rest = Math.max(0, pacing.restMs(worked));
    if (rest === 0 && worked < pacing.turnMs) return Promise.resolve();
  }
  return turn = new Promise<void>((resolve) =>
    setTimeout(() => {
      turn = null;
      turnEnd = performance.now();
      resolve();
    }, rest)
  );
}

/**
 * The matching lines of complete lines in a buffer: the shared core of file
 * and `.gz` search. Yields the start of each matching line (its end is in
 * {@link lineEnd}), and -1 now and then so the caller can check the clock.
 */
export class LineScanner {
  readonly finder: ByteFinder;
  readonly hay: Uint8Array;
  /** The end (index of its `\n`, or the block's end) of the line last yielded. */
  lineEnd = 0;
  /** Where the scan is: the start of the next line to look at (progress within a window). */
  at = 0;
  readonly #m: LineMatcher;

  constructor(m: LineMatcher, capacity: number) {
    this.#m = m;
    // Without a needle the finder only counts newlines; its needle is never used.
    this.finder = new ByteFinder(m.needles ?? [new Uint8Array([NL])], m.fold, capacity);
    this.hay = this.finder.hay;
  }

  /** Whether `needles` decide alone (no decoding) that a line matches. */
  get exact(): boolean {
    return this.#m.exact;
  }

  /**
   * Matching lines in `hay[start, end)`, where `start` is a line start and
   * `end` a line start or the end of the content. Call `finder.reset()` after
   * changing the bytes.
   */
  *matches(start: number, end: number): Generator<number> {
    const hay = this.hay, m = this.#m;
    let s = start, tested = 0;
    this.at = start;
    if (m.needles === null) {
      // Every line is a candidate: decode the block once and walk its lines
      // in bytes and in text together (a decoder never swallows a 0x0A, so
      // the two have the same lines).
      const text = decoder.decode(hay.subarray(start, end));
      let t = 0;
      while (s < end) {
        let e = hay.indexOf(NL, s);
        if (e < 0 || e >= end) e = end;
        let te = text.indexOf("\n", t);
        if (te < 0) te = text.length;
        if (m.test(text.slice(t, te))) {
          this.lineEnd = e;
          yield s;
        } else if (++tested % 256 === 0) {
          this.at = e + 1;
          yield -1;
        }
        s = e + 1;
        t = te + 1;
      }
      return;
    }
    while (s < end) {
      const hit = this.finder.find(s, end);
      if (hit < 0) return;
      const ls = hit === s ? s : hay.lastIndexOf(NL, hit - 1) + 1;
      const from = ls < s ? s : ls;
      let e = hay.indexOf(NL, hit);
      if (e < 0 || e >= end) e = end;
      if (m.exact || m.test(decoder.decode(hay.subarray(from, e)))) {
        this.lineEnd = e;
        yield from;
      } else if (++tested % 64 === 0) {
        this.at = e + 1;
        yield -1;
      }
      s = e + 1;
    }
  }
}

/** What a search needs to know about a file. */
export interface SearchFile {
  path: string;
  /**
   * Opens the file (the search closes what it returns); default
   * `open(path, "r")`. A server passes its guarded open (src/raw.ts), or a
   * handle it opened already.
   */
  open?: () => Promise<IndexHandle>;
  /** The size to search up to (the file may grow meanwhile); by default its size when opened. */
  size?: number;
  /** The name matches carry in a history search. */
  name?: string;
  /**
   * The 1-based number of the line starting at byte `offset` (a line start,
   * or the file's size), from the caller's line index. Without it, or when
   * it fails, the search counts the newlines before its start itself.
   * Progress goes out while it is awaited.
   */
  lineOf?: (offset: number, signal: AbortSignal) => Promise<number>;
}

/** The state one search carries from slice to slice. */
class Pace {
  sliceStart = performance.now();
  lastProgress = performance.now();
  constructor(readonly signal: AbortSignal) {}
  /** True when the slice is used up: the caller then awaits {@link rest}. */
  due(): boolean {
    return performance.now() - this.sliceStart >= SLICE_MS;
  }
  async rest(): Promise<void> {
    await breathe();
    this.sliceStart = performance.now();
  }
  progressDue(): boolean {
    const now = performance.now();
    if (now - this.lastProgress < PROGRESS_MS) return false;
    this.lastProgress = now;
    return true;
  }
}

/** Stops a search: the consumer went away. */
class Aborted extends Error {}

/**
 * Searches one plain file: `{"n","offset","text"}` per matching line,
 * `{"scanned","size"}` at least every 250 ms, and last `{"done":true,…}`.
 * A backward search (the default) gives the lines starting before `from`
 * (default: the end), newest first; a forward one the lines starting at or
 * after `from`. It ends without a `done` when `signal` aborts, within one
 * slice. A failed read ends it with `done` and `error`.
 */
export async function* searchFile(
  file: SearchFile,
  query: SearchQuery,
  signal: AbortSignal,
  matcher: LineMatcher = compileMatcher(query),
): AsyncGenerator<SearchEvent> {
  const st = { matches: 0, scanned: 0 };
  let fh: IndexHandle;
  try {
    fh = await (file.open ? file.open() : open(file.path, "r"));
  } catch (e) {
    yield {
      done: true,
      matches: 0,
      scanned: 0,
      error: `Cannot open "${file.name ?? file.path}": ${(e as Error).message}`,
    };
    return;
  }
  try {
    const size = file.size ?? Number((await fh.stat()).size);
    const scan = new LineScanner(matcher, WINDOW);
    const pace = new Pace(signal);
    const read = async (pos: number, len: number): Promise<number> => {
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(scan.hay, got, len - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (signal.aborted) throw new Aborted();
      return got;
    };
    const ctx: Ctx = { file, size, scan, pace, read, st, signal, name: file.name };
    const gen = query.dir === "fwd" ? forward(ctx, query) : backward(ctx, query);
    yield* gen;
  } catch (e) {
    if (e instanceof Aborted || signal.aborted) return;
    yield { done: true, ...st, error: (e as Error).message };
  } finally {
    await fh.close().catch(() => {});
  }
}

interface Ctx {
  file: SearchFile;
  size: number;
  scan: LineScanner;
  pace: Pace;
  read: (pos: number, len: number) => Promise<number>;
  st: { matches: number; scanned: number };
  signal: AbortSignal;
  name?: string;
}

/**
 * Line number of the line starting at `offset`: the caller's index, or a
 * count of the newlines before it; progress (nothing scanned yet) goes out
 * every {@link PROGRESS_MS} meanwhile, as the protocol promises.
 */
async function* lineAt(ctx: Ctx, offset: number): AsyncGenerator<SearchProgress, number> {
  const waiting = { scanned: 0, size: ctx.size };
  if (ctx.file.lineOf) {
    const asked = ctx.file.lineOf(offset, ctx.signal).then((n) => ({ n }), (e: unknown) => ({ e }));
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<null>((r) => timer = setTimeout(() => r(null), PROGRESS_MS));
      const got = await Promise.race([asked, tick]);
      clearTimeout(timer);
      if (ctx.signal.aborted) throw new Aborted();
      if (got === null) {
        yield waiting;
        continue;
      }
      if ("n" in got) return got.n;
      break; // the index could not say (it failed, or moved to a newer file): count
    }
  }
  let n = 1;
  for (let pos = 0; pos < offset;) {
    const len = await ctx.read(pos, Math.min(WINDOW, offset - pos));
    if (len === 0) break;
    n += ctx.scan.finder.count(0, len);
    pos += len;
    if (ctx.pace.progressDue()) yield waiting;
    if (ctx.pace.due()) await ctx.pace.rest();
    if (ctx.signal.aborted) throw new Aborted();
  }
  return n;
}

function match(ctx: Ctx, n: number, offset: number, hay: Uint8Array, ls: number, le: number): SearchMatch {
  const m: SearchMatch = { n, offset, ...lineText(hay, ls, le) };
  if (ctx.name !== undefined) m.file = ctx.name;
  return m;
}

/**
 * A line longer than {@link WINDOW} starting at `start`: where it ends (its
 * `\n`, or the end of the file), whether it matches, and its first
 * {@link LINE_CUT} bytes. It is read in {@link WINDOW}-byte pieces that
 * overlap by a needle's length: a literal is found anywhere in it, a regular
 * expression when its match fits in one piece.
 */
async function longLine(ctx: Ctx, start: number): Promise<{ end: number; hit: boolean; head: Uint8Array }> {
  const { scan, size } = ctx;
  const overlap = MAX_NEEDLE;
  let pos = start, hit = false, head: Uint8Array | null = null;
  for (;;) {
    const len = await ctx.read(pos, Math.min(WINDOW, size - pos));
    let nl = scan.hay.subarray(0, len).indexOf(NL);
    if (nl < 0) nl = len;
    if (head === null) head = scan.hay.slice(0, Math.min(nl, LINE_CUT + 4));
    if (!hit) {
      scan.finder.reset();
      if (scan.exact) hit = scan.finder.find(0, nl) >= 0;
      else for (const s of scan.matches(0, nl)) if (s >= 0) hit = true;
    }
    if (nl < len || pos + len >= size || len === 0) return { end: pos + nl, hit, head };
    pos += len - overlap;
    if (ctx.pace.due()) await ctx.pace.rest();
  }
}

function longMatch(ctx: Ctx, n: number, start: number, end: number, head: Uint8Array): SearchMatch {
  const m: SearchMatch = { n, offset: start, ...lineText(head, 0, Math.min(head.length, end - start)) };
  if (end - start > LINE_CUT) Object.assign(m, { cut: true, bytes: end - start });
  if (ctx.name !== undefined) m.file = ctx.name;
  return m;
}

async function* forward(ctx: Ctx, query: SearchQuery): AsyncGenerator<SearchEvent> {
  const { scan, size, pace, st } = ctx;
  const hay = scan.hay;
  let pos = query.from ?? 0;
  // Snap to the first line starting at or after `from`.
  if (pos > 0 && pos < size) {
    const b = await ctx.read(pos - 1, 1);
    if (b === 1 && hay[0] !== NL) {
      for (;;) {
        const len = await ctx.read(pos, Math.min(WINDOW, size - pos));
        const nl = hay.subarray(0, len).indexOf(NL);
        if (nl >= 0) {
          pos += nl + 1;
          break;
        }
        pos += len;
        if (len === 0 || pos >= size) break;
      }
    }
  }
  const start = pos;
  let line = yield* lineAt(ctx, pos);
  while (pos < size) {
    const len = await ctx.read(pos, Math.min(WINDOW, size - pos));
    if (len === 0) break; // the file shrank: what is left is gone
    const atEof = pos + len >= size;
    const end = atEof ? len : hay.lastIndexOf(NL, len - 1) + 1;
    if (end === 0) {
      // A line longer than the window.
      const l = await longLine(ctx, pos);
      if (l.hit) {
        yield longMatch(ctx, line, pos, l.end, l.head);
        if (++st.matches >= query.limit) {
          st.scanned = l.end + 1 - start;
          yield { done: true, ...st, ...(l.end + 1 < size ? { next: l.end + 1 } : {}) };
          return;
        }
      }
      pos = Math.min(size, l.end + 1);
      line += l.end < size ? 1 : 0;
      st.scanned = pos - start;
      continue;
    }
    scan.finder.reset();
    let counted = 0;
    for (const ls of scan.matches(0, end)) {
      if (ls >= 0) {
        line += scan.finder.count(counted, ls);
        counted = ls;
        yield match(ctx, line, pos + ls, hay, ls, scan.lineEnd);
        if (++st.matches >= query.limit) {
          const next = pos + scan.lineEnd + 1;
          st.scanned = Math.min(size, next) - start;
          yield { done: true, ...st, ...(next < size ? { next } : {}) };
          return;
        }
      }
      if (pace.due()) {
        await pace.rest();
        if (ctx.signal.aborted) throw new Aborted();
        // A window of lines the engine reads one by one can take longer than progress may wait.
        if (pace.progressDue()) yield { scanned: pos + Math.max(scan.at, counted) - start, size };
      }
    }
    line += scan.finder.count(counted, end);
    pos += end;
    st.scanned = pos - start;
    if (pace.progressDue()) yield { scanned: st.scanned, size };
    if (pace.due()) await pace.rest();
  }
  yield { done: true, ...st };
}

async function* backward(ctx: Ctx, query: SearchQuery): AsyncGenerator<SearchEvent> {
  const { scan, size, pace, st } = ctx;
  const hay = scan.hay;
  let hi = query.from ?? size;
  // Lines starting before `from`: the one `from` falls in ends after it.
  if (hi > 0 && hi < size) {
    const b = await ctx.read(hi - 1, 1);
    if (b === 1 && hay[0] !== NL) {
      for (;;) {
        const len = await ctx.read(hi, Math.min(WINDOW, size - hi));
        const nl = hay.subarray(0, len).indexOf(NL);
        if (nl >= 0) {
          hi += nl + 1;
          break;
        }
        hi += len;
        if (len === 0 || hi >= size) break;
      }
    }
  }
  const top = hi;
  // The number of the line starting at `hi`.
  let line = yield* lineAt(ctx, hi);
  while (hi > 0) {
    const lo = Math.max(0, hi - WINDOW);
    const len = await ctx.read(lo, hi - lo);
    if (len < hi - lo) throw new Error("The file shrank during the search");
    let first = 0;
    if (lo > 0) {
      const nl = hay.subarray(0, len).indexOf(NL);
      // The window's first line may have begun before it; it is the next window's last.
      first = nl < 0 || nl === len - 1 ? -1 : nl + 1;
    }
    if (first < 0) {
      // One line fills the window: find where it starts, then read it forward.
      let ls = lo;
      for (;;) {
        const from = Math.max(0, ls - WINDOW);
        const n = await ctx.read(from, ls - from);
        const nl = hay.subarray(0, n).lastIndexOf(NL);
        if (nl >= 0) {
          ls = from + nl + 1;
          break;
        }
        ls = from;
        if (from === 0) break;
        if (pace.due()) await pace.rest();
      }
      const l = await longLine(ctx, ls);
      line -= l.end < top ? 1 : 0;
      if (l.hit) {
        yield longMatch(ctx, line, ls, l.end, l.head);
        if (++st.matches >= query.limit) {
          st.scanned = top - ls;
          yield { done: true, ...st, ...(ls > 0 ? { next: ls } : {}) };
          return;
        }
      }
      hi = ls;
      st.scanned = top - hi;
      continue;
    }
    scan.finder.reset();
    // Blocks from the window's end back to `first`, each a run of whole lines.
    let cur = len; // `line` is the number of the line starting at hay[cur]
    let blockEnd = len;
    while (blockEnd > first) {
      let blockStart = Math.max(first, blockEnd - BACK_BLOCK);
      if (blockStart > first) {
        blockStart = hay.lastIndexOf(NL, blockStart - 1) + 1;
        if (blockStart < first) blockStart = first;
      }
      const hits: number[] = [];
      const ends: number[] = [];
      for (const ls of scan.matches(blockStart, blockEnd)) {
        if (ls >= 0) {
          hits.push(ls);
          ends.push(scan.lineEnd);
        }
        if (pace.due()) {
          await pace.rest();
          if (ctx.signal.aborted) throw new Aborted();
          if (pace.progressDue()) {
            yield { scanned: top - (lo + blockEnd) + Math.max(0, scan.at - blockStart), size };
          }
        }
      }
      for (let k = hits.length - 1; k >= 0; k--) {
        const ls = hits[k]!;
        line -= scan.finder.count(ls, cur);
        cur = ls;
        yield match(ctx, line, lo + ls, hay, ls, ends[k]!);
        if (++st.matches >= query.limit) {
          st.scanned = top - (lo + ls);
          yield { done: true, ...st, ...(lo + ls > 0 ? { next: lo + ls } : {}) };
          return;
        }
      }
      blockEnd = blockStart;
      if (pace.due()) await pace.rest();
      if (ctx.signal.aborted) throw new Aborted();
    }
    line -= scan.finder.count(first, cur);
    hi = lo + first;
    st.scanned = top - hi;
    if (pace.progressDue()) yield { scanned: st.scanned, size };
  }
  yield { done: true, ...st };
}

// ---------------------------------------------------------------------------
// Limits and the wire

/** A running search's hold on the limits: call {@link release} when it ends (twice is fine). */
export interface SearchSlot {
  ok: true;
  release(): void;
}
/** A refusal: answer 429 with `Retry-After: retryAfterS` and the reason. */
export interface SearchRefusal {
  ok: false;
  status: 429;
  reason: string;
  retryAfterS: number;
}

/**
 * At most `perClient` searches per client address and `total` in all at
 * once (by default 2 and 4 per core), so searches cannot starve the live
 * viewers of CPU.
 * @example
 * ```ts
 * const slot = limiter.acquire(clientAddress);
 * if (!slot.ok) return new Response(slot.reason, { status: 429, headers: { "Retry-After": String(slot.retryAfterS) } });
 * try { … } finally { slot.release(); }
 * ```
 */
export class SearchLimiter {
  /** Searches per client address. */
  readonly perClient: number;
  /** Searches in all. */
  readonly total: number;
  /** What Retry-After says: about how long a search of a large file takes. */
  readonly retryAfterS: number;
  readonly #byClient = new Map<string, number>();
  #running = 0;

  constructor(opts: { perClient?: number; total?: number; retryAfterS?: number } = {}) {
    this.perClient = opts.perClient ?? 2;
    this.total = opts.total ?? 4 * availableParallelism();
    this.retryAfterS = opts.retryAfterS ?? 5;
  }

  /** Searches running now. */
  get running(): number {
    return this.#running;
  }

  /** A slot for one search from `client`, or a refusal when a limit is reached. */
  acquire(client: string): SearchSlot | SearchRefusal {
    const mine = this.#byClient.get(client) ?? 0;
    if (mine >= this.perClient) {
      return {
        ok: false,
        status: 429,
        reason: `Too many searches: at most ${this.perClient} at once per client`,
        retryAfterS: this.retryAfterS,
      };
    }
    if (this.#running >= this.total) {
      return {
        ok: false,
        status: 429,
        reason: `Too many searches: at most ${this.total} at once on this server`,
        retryAfterS: this.retryAfterS,
      };
    }
    this.#byClient.set(client, mine + 1);
    this.#running++;
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.#running--;
        const n = (this.#byClient.get(client) ?? 1) - 1;
        if (n <= 0) this.#byClient.delete(client);
        else this.#byClient.set(client, n);
      },
    };
  }
}

/**
 * Events as an `application/x-ndjson` body: one JSON object per line. The
 * stream pulls one event at a time (a slow client slows the search rather
 * than filling memory); cancelling it (the client went away) aborts
 * `controller`, which stops the search within a slice. `onEnd` runs once
 * when the stream ends either way (release the limiter's slot there).
 */
export function ndjsonBody(
  events: AsyncIterable<SearchEvent>,
  controller: AbortController,
  onEnd: () => void = () => {},
): ReadableStream<Uint8Array> {
  const it = events[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const r = await it.next();
        if (r.done) {
          end();
          c.close();
        } else c.enqueue(encoder.encode(JSON.stringify(r.value) + "\n"));
      } catch (e) {
        end();
        c.error(e);
      }
    },
    async cancel() {
      controller.abort();
      end();
      await it.return?.();
    },
  });
}
