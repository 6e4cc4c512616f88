/**
 * Line links: `#L120` names line 120 of the file.
 * @module
 */

/**
 * The line a URL fragment names (`"#L120"` → 120), or null for anything else
 * (no fragment, `#L0`, `#L12x`, `#top`, a number past 2^31).
 */
export function parseLineHash(hash: string): number | null {
  const m = /^#L([1-9][0-9]{0,9})$/.exec(hash);
  if (!m) return null;
  const n = Number(m[1]);
  return n <= 2 ** 31 ? n : null;
}

/** The fragment for line `n`: `#L120`. */
export function lineHash(n: number): string {
  return `#L${n}`;
}

/** What the "Go to line" box made of its input: a line to show, or what to say instead. */
export type LineInput = { ok: true; line: number } | { ok: false; message: string };

/**
 * Reads the "Go to line" box: a whole number from 1 to `total` (the lines the
 * page holds, which name lines of the file only when it holds it from its
 * first byte: see {@link noLinksReason}). Spaces around it and digit group
 * separators (`1,200`) are allowed; anything else says what was wrong.
 * @example
 * ```ts
 * parseLineInput("120", 400); // { ok: true, line: 120 }
 * parseLineInput("500", 400); // { ok: false, message: "There is no line 500: the file has 400 lines" }
 * ```
 */
export function parseLineInput(input: string, total: number): LineInput {
  const s = input.trim().replace(/[,_\s]/g, "");
  if (s === "") return { ok: false, message: "Type a line number" };
  if (!/^[0-9]+$/.test(s)) return { ok: false, message: `“${input.trim().slice(0, 40)}” is not a line number` };
  const n = Number(s);
  if (total === 0) return { ok: false, message: "The file has no lines" };
  if (n < 1 || n > total) {
    const shown = s.length > 12 ? s.slice(0, 12) + "…" : String(n);
    const has = `${total.toLocaleString("en")} ${total === 1 ? "line" : "lines"}`;
    return { ok: false, message: `There is no line ${shown}: the file has ${has}` };
  }
  return { ok: true, line: n };
}

/**
 * Why line numbers make no links on this page (null: they do). A link names a
 * line of the file, so only a page that holds the file from its first byte
 * (`offset` 0, nothing `dropped`) can number lines so.
 */
export function noLinksReason(offset: number, dropped: boolean): string | null {
  const why = dropped
    ? "earlier lines were dropped from this page"
    : offset > 0
    ? "this page shows the last part of the file (tail mode)"
    : null;
  return why === null ? null : `Line links are off: ${why}, so its line numbers are not the file's`;
}
