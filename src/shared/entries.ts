/**
 * Multi-line entries: a stack trace, a Python traceback or a Go panic belongs
 * to the line above it, so the filter, the levels and search keep or hide
 * the whole entry, and an entry folds. An entry's level is its first line's.
 *
 * A line continues the entry above when:
 * - the file is stamped (see {@link detectEntryContext}) and the line does
 *   not start with a timestamp ({@link hasTimestamp}) — in a stamped file a
 *   stamped line always starts an entry, whatever else it looks like, and so
 *   does Go's `panic: …` (a crash, never part of the line a logger wrote
 *   before it);
 * - it is indented (spaces or a tab), unless the file looks indented
 *   throughout;
 * - it is a Java/JavaScript frame `at …`, `Caused by: …`, `Suppressed: …`,
 *   `... 12 more`, `... 3 common frames omitted`;
 * - it is Python's `Traceback (most recent call last):`, the frames after
 *   it, the exception line that ends it (`ValueError: …`), and the
 *   "During handling of the above exception…" lines and blank lines that
 *   chain the next one;
 * - it is a Go `goroutine 1 [running]:` block (frames, `created by …`,
 *   blank lines between goroutines, `exit status 2`), or the blank lines and
 *   `[signal …]` between `panic: …` and the first goroutine.
 *
 * Lines arrive one by one (appends), so the rules run in an
 * {@link EntryScanner} that carries the little state the blocks need.
 * @module
 */

/** What is known about the file that decides its entries. */
export interface EntryContext {
  /** Most entries start with a timestamp: a line without one continues the entry above. */
  readonly stamped: boolean;
  /** Indentation marks a continuation (false when most of the file is indented anyway). */
  readonly indent: boolean;
}

/** The context before anything is known: unstamped, indentation counts. */
export const DEFAULT_CONTEXT: EntryContext = Object.freeze({ stamped: false, indent: true });

/** How many non-empty lines from the start {@link detectEntryContext} reads. */
export const ENTRY_SAMPLE = 200;
/** The share of sampled lines that, indented with the first, make indentation no sign of continuation. */
export const INDENTED_SHARE = 0.8;
/** The share of entry starts that must be stamped for the file to be. */
export const STAMPED_SHARE = 0.5;

/**
 * A timestamp at the start of a line, after an optional syslog `<N>` and an
 * opening bracket: ISO 8601 / RFC 3339 (`T` or space; `/` and `.` dates
 * too), a time of day alone (`10:00:00.123 [info]`), syslog `Jun 12
 * 10:00:00`, `Wed Jun 12 10:00:00`, `Jun 12, 2024 10:00:00 AM`
 * (java.util.logging), `12/Jun/2024:10:00:00`, `12/06/2024 10:00`,
 * Android's `06-12 10:00:00`, glog/klog `E0612 10:00:00`, Ruby's `E, [2024-…`,
 * epoch seconds or milliseconds, the kernel's `[ 1234.567890]`, and logfmt's
 * `time=2024-…` / `ts=2024-…`.
 */
const STAMP = new RegExp(
  "^(?:<\\d{1,3}>(?:1 )?)?[\\[(]?(?:" + [
    "\\d{4}[-/.]\\d\\d[-/.]\\d\\d(?:T|\\s+)\\d\\d:\\d\\d",
    "\\d\\d:\\d\\d:\\d\\d",
    "[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d",
    "[A-Z][a-z]{2},? [A-Z][a-z]{2} [ \\d]?\\d \\d\\d:\\d\\d",
    "[A-Z][a-z]{2} \\d\\d?, \\d{4} \\d\\d?:\\d\\d",
    "\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d",
    "\\d\\d/\\d\\d/\\d{4},? \\d\\d:\\d\\d",
    "\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d",
    "[IWEF]\\d{4} \\d\\d:\\d\\d:\\d\\d",
    "[DIWEFUA], \\[\\d{4}-",
    "\\d{10}(?:\\d{3})?(?:\\.\\d+)?(?!\\d)",
    "\\s*\\d+\\.\\d{6}\\]",
    '(?:time|ts|t)="?\\d{4}-\\d\\d-\\d\\d',
  ].join("|") + ")",
);

/** True when the line starts with a timestamp in one of the forms above. */
export function hasTimestamp(line: string): boolean {
  return STAMP.test(line);
}

const AT = /^at (?:async |new )?[^\s(]+(?: \[as [^\]]+\])? ?\(|^at (?:async )?\S+:\d+/;
const CAUSED = /^(?:Caused by|Suppressed):/;
const MORE = /^\.\.\. ?\d+ (?:more|common frames omitted)/;
const TRACEBACK = "Traceback (most recent call last):";
const CHAINED =
  /^(?:During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)$/;
const GOROUTINE = /^goroutine \d+ \[[^\]]*\]:$/;
const GO_PANIC = /^(?:panic: |fatal error: )/;
/** In a goroutine dump: `main.main()`, `net/http.(*conn).serve(0xc000…)`, `created by …`, `exit status 2`. */
const GO_FRAME =
  /^(?:[\w./\-*()[\]{}]+\(.*\)$|created by |exit status \d+$|\[signal |\.\.\.additional frames elided|PC=0x)/;
/** Only for counting stamped starts: a Java or JavaScript exception line is part of the entry above. */
const EXCEPTION_HEAD = /^(?:[\w$]+\.)*[\w$]*(?:Exception|Error|Throwable)(?::\s|$)/;

/** Where a scanner is: in no block, or in one of these. */
type Block = 0 | 1 | 2 | 3 | 4;
const Block = {
  None: 0,
  /** Inside a Python traceback: frames until the exception line. */
  Traceback: 1,
  /** After a traceback's exception line: blank lines and "During handling…" may chain another. */
  TracebackEnd: 2,
  /** After `panic: …`, before the first goroutine. */
  Panic: 3,
  /** Inside a goroutine dump. */
  Goroutine: 4,
} as const;

function isBlank(line: string): boolean {
  return line.trim() === "";
}

function isIndented(line: string): boolean {
  const c = line.charCodeAt(0);
  return (c === 0x20 || c === 0x09) && !isBlank(line);
}

/**
 * Reads lines in order and says which continue the entry above. Its state is
 * small; {@link clone} keeps a copy to resume from (the end of what the page
 * holds, for the next append).
 * @example
 * ```ts
 * const s = new EntryScanner(DEFAULT_CONTEXT);
 * ["ERROR failed", "java.lang.IllegalStateException: x", "\tat a.B.c(B.java:1)"].map((l) => s.push(l));
 * // [false, false, true]
 * ```
 */
export class EntryScanner {
  #block: Block = Block.None;
  #lines = 0;

  constructor(readonly context: EntryContext) {}

  /** Reads the next line: true when it continues the entry above, false when it starts an entry. */
  push(line: string): boolean {
    const first = this.#lines++ === 0;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    // A Go panic is never a logger's continuation: it starts an entry, stamped file or not.
    if (first || (this.context.stamped && (hasTimestamp(line) || GO_PANIC.test(line)))) {
      this.#block = opens(line);
      return false;
    }
    switch (this.#block) {
      case Block.Traceback:
        if (!isIndented(line) && !isBlank(line)) this.#block = Block.TracebackEnd;
        return true;
      case Block.TracebackEnd:
        if (isBlank(line) || CHAINED.test(line)) return true;
        if (line === TRACEBACK) {
          this.#block = Block.Traceback;
          return true;
        }
        break;
      case Block.Panic:
        if (isBlank(line) || line.startsWith("[signal ")) return true;
        if (GOROUTINE.test(line)) {
          this.#block = Block.Goroutine;
          return true;
        }
        break;
      case Block.Goroutine:
        if (isBlank(line) || isIndented(line) || GOROUTINE.test(line) || GO_FRAME.test(line)) return true;
        break;
    }
    this.#block = Block.None;
    if (continues(line, this.context)) {
      const b = opens(line);
      if (b !== Block.None) this.#block = b;
      return true;
    }
    this.#block = opens(line);
    return false;
  }

  /** A scanner in the same state, to resume from later. */
  clone(): EntryScanner {
    const s = new EntryScanner(this.context);
    s.#block = this.#block;
    s.#lines = this.#lines;
    return s;
  }
}

/** The block a line opens, if any (it may start an entry or continue one). */
function opens(line: string): Block {
  const c = line.charCodeAt(0);
  if (c === 0x54 && line.startsWith(TRACEBACK)) return Block.Traceback; // T
  if (c === 0x67 && GOROUTINE.test(line)) return Block.Goroutine; // g
  if ((c === 0x70 || c === 0x66) && GO_PANIC.test(line)) return Block.Panic; // p, f
  return Block.None;
}

/**
 * The rules that need no memory of the lines before: true when `line`
 * continues the entry above by itself (unstamped in a stamped file,
 * indented, `at …`, `Caused by:`, `... N more`, a traceback or goroutine
 * header). {@link EntryScanner} adds the blocks (a traceback's last line, a
 * goroutine's frames).
 */
export function isContinuation(line: string, context: EntryContext): boolean {
  if (context.stamped && (hasTimestamp(line) || GO_PANIC.test(line))) return false;
  return continues(line, context);
}

function continues(line: string, context: EntryContext): boolean {
  if (context.stamped) return true; // the caller has seen it has no timestamp
  const c = line.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return context.indent ? !isBlank(line) : false;
  switch (c) {
    case 0x61: // a
      return AT.test(line);
    case 0x43: // C
    case 0x53: // S
      return CAUSED.test(line);
    case 0x2e: // .
      return MORE.test(line);
    case 0x54: // T
      return line.startsWith(TRACEBACK);
    case 0x67: // g
      return GOROUTINE.test(line);
  }
  return false;
}

/**
 * The indexes of the lines in `lines[from, to)` that start an entry; `from`
 * always does (a window's first line has no line above it here).
 * @example
 * ```ts
 * entryStarts(["ERROR x", "  at a", "INFO y"], DEFAULT_CONTEXT); // [0, 2]
 * ```
 */
export function entryStarts(
  lines: readonly string[],
  context: EntryContext,
  from = 0,
  to: number = lines.length,
): number[] {
  const s = new EntryScanner(context);
  const starts: number[] = [];
  for (let i = from; i < to; i++) if (!s.push(lines[i]!)) starts.push(i);
  return starts;
}

/** Which entry (an index into `starts`) holds line `i`, by binary search; -1 before the first. */
export function entryOf(starts: readonly number[], i: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= i) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * Decides a file's {@link EntryContext} from its first {@link ENTRY_SAMPLE}
 * non-empty lines. Indentation stops counting when the first of them is
 * indented and at least {@link INDENTED_SHARE} are (a file indented
 * throughout; a log of stack traces starts with a log line). The file is stamped when, of the lines that start entries by
 * the other rules (exception lines like `java.lang.X: …` left out), at least
 * {@link STAMPED_SHARE} start with a timestamp — a share of entries, not of
 * lines, so a log of long stack traces is still stamped. With fewer lines
 * than the sample the answer is provisional: ask again as lines arrive.
 */
export function detectEntryContext(lines: Iterable<string>): EntryContext {
  const sample: string[] = [];
  let indented = 0;
  for (const line of lines) {
    if (isBlank(line)) continue;
    sample.push(line);
    if (isIndented(line)) indented++;
    if (sample.length >= ENTRY_SAMPLE) break;
  }
  const indent = !(sample.length > 0 && isIndented(sample[0]!) && indented >= INDENTED_SHARE * sample.length);
  const scanner = new EntryScanner({ stamped: false, indent });
  let starts = 0;
  let stamped = 0;
  for (const line of sample) {
    if (scanner.push(line) || EXCEPTION_HEAD.test(line)) continue;
    starts++;
    if (hasTimestamp(line)) stamped++;
  }
  return { stamped: stamped > 0 && stamped >= STAMPED_SHARE * starts, indent };
}
