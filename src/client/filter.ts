/**
 * The filter box's language: plain text, or `/regex/`. Pure, so the page and
 * the unit tests read a filter the same way.
 * @module
 */

/** What the box holds, read: nothing, a usable pattern, or why it is not one. */
export type Filter =
  | { kind: "none" }
  | { kind: "ok"; re: RegExp; regex: boolean }
  | { kind: "error"; message: string };

/**
 * Reads the filter box. Text between slashes (`/err(or)?/`) is a regular
 * expression; anything else is matched literally. Matching ignores case unless
 * `matchCase`. An empty box, or `//`, is no filter. A regular expression that
 * does not compile is an `error` with the engine's reason: it never throws.
 * @example
 * ```ts
 * parseFilter("/warn|err/", false); // { kind: "ok", re: /warn|err/gi, regex: true }
 * parseFilter("a.b", true);         // { kind: "ok", re: /a\.b/g, regex: false }
 * parseFilter("/(/", false);        // { kind: "error", message: "Invalid regular expression: …" }
 * ```
 */
export function parseFilter(input: string, matchCase: boolean): Filter {
  const flags = matchCase ? "g" : "gi";
  if (input === "" || input === "//") return { kind: "none" };
  if (input.length >= 3 && input.startsWith("/") && input.endsWith("/")) {
    try {
      return { kind: "ok", re: new RegExp(input.slice(1, -1), flags), regex: true };
    } catch (e) {
      return { kind: "error", message: e instanceof Error ? e.message : String(e) };
    }
  }
  return { kind: "ok", re: new RegExp(escapeRegExp(input), flags), regex: false };
}

/** `text` with every character a RegExp treats specially escaped. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Whether `line` matches `re` (a global RegExp: its `lastIndex` is reset first). */
export function matches(re: RegExp, line: string): boolean {
  re.lastIndex = 0;
  return re.test(line);
}

/**
 * Where `re` (global) matches in `line`, as `[start, end)` pairs, in order and
 * never overlapping; empty matches (`/^/`, `/x*\/`) mark nothing. At most
 * `limit` ranges, so a pathological line cannot build thousands of marks.
 */
export function matchRanges(re: RegExp, line: string, limit = 100): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (out.length < limit && (m = re.exec(line)) !== null) {
    if (m[0] === "") {
      re.lastIndex++; // step over the empty match, or exec() would return it forever
      if (re.lastIndex > line.length) break;
      continue;
    }
    out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

/**
 * The indexes of the lines in `lines` from `from` on that match `re`.
 * @example
 * ```ts
 * matchingLines(["a", "b", "ab"], /a/g); // [0, 2]
 * ```
 */
export function matchingLines(lines: readonly string[], re: RegExp, from = 0): number[] {
  const out: number[] = [];
  for (let i = from; i < lines.length; i++) {
    re.lastIndex = 0;
    if (re.test(lines[i]!)) out.push(i);
  }
  return out;
}

/** "12 of 3,400 lines", as the filter's count says it. */
export function countLabel(shown: number, total: number): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return `${n(shown)} of ${n(total)} ${total === 1 ? "line" : "lines"}`;
}
